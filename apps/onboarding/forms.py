"""Forms of the onboarding pages. Shapes only; the rules live in the services."""

from __future__ import annotations

from django import forms

from apps.onboarding.services import JOINABLE_ROLES
from apps.teams.models import Membership


class JoinTeamForm(forms.Form):
    role = forms.ChoiceField(choices=[(r, Membership.Role(r).label) for r in JOINABLE_ROLES], initial=Membership.Role.MEMBER,
                             help_text="Members deploy and change things; viewers only read")
    note = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="A word for the team's managers: who you are, why you join")


class KubeconfigForm(forms.Form):
    """The no-JavaScript path: portal-generated key (download) or a pasted CSR.

    The in-browser key path posts to the API from ``static/js/keygen.js``
    instead, so the private key never leaves the page.
    """

    MODE_PORTAL = "portal"
    MODE_CSR = "csr"
    MODE_BROWSER = "browser"

    cluster = forms.ChoiceField()
    namespace = forms.ChoiceField(required=False)
    mode = forms.ChoiceField(choices=[
        (MODE_BROWSER, "Generate my key in this browser (the key never leaves this page)"),
        (MODE_CSR, "I paste my own CSR (I keep the key)"),
        (MODE_PORTAL, "The portal generates the key (handed over once in the download, never stored)"),
    ], initial=MODE_BROWSER, widget=forms.RadioSelect)
    csr = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
                          label="CSR (PEM)")
    reason = forms.CharField(required=False, max_length=200)
    renews = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clusters, namespaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [(c.name, c.name) for c in clusters]
        self.fields["namespace"].choices = [("", "— none (\"default\" or my first namespace) —")] + [
            (f"{ns.cluster.name}/{ns.name}", f"{ns.name} ({ns.cluster.name}, team {ns.team.slug})") for ns in namespaces]

    def clean(self):
        data = super().clean()
        ns = data.get("namespace") or ""
        if ns:
            cluster_name, _, ns_name = ns.partition("/")
            if cluster_name != data.get("cluster"):
                self.add_error("namespace", f"namespace {ns_name} is on cluster {cluster_name}, not {data.get('cluster')}")
            data["namespace_name"] = ns_name
        else:
            data["namespace_name"] = ""
        if data.get("mode") == self.MODE_CSR and not (data.get("csr") or "").strip():
            self.add_error("csr", "paste a PEM certificate signing request")
        return data
