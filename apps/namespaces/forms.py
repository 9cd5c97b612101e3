"""The namespace request form: field types only; the rules live in the approvals services.

``namespace_request_validate`` / ``namespace_request_submit`` decide whether a
request is acceptable; this form only turns POST data into the arguments they
take, and maps their errors back onto the fields.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.clusters.models import Cluster, PodSecurityLevel
from apps.core import quantities
from apps.namespaces.models import QuotaTier
from apps.teams.models import Membership, Team


def quota_field_name(resource: str) -> str:
    """Form field name of a quota resource: ``requests.cpu`` -> ``quota_requests_cpu``."""
    return "quota_" + resource.replace(".", "_")


QUOTA_FIELDS = {quota_field_name(resource): resource for resource in quantities.QUOTA_RESOURCES}

# Fields of the service's ValidationError that are form fields as they are.
_PLAIN_FIELDS = ("team", "cluster", "name", "purpose", "ttl_hours", "pod_security_level")


class NamespaceRequestForm(forms.Form):
    """What a developer fills in to ask for a namespace."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), to_field_name="slug", empty_label=None)
    cluster = forms.ModelChoiceField(queryset=Cluster.objects.order_by("name"), to_field_name="name", empty_label=None)
    name = forms.CharField(strip=True, help_text="Lower-case letters, digits and '-', at most 63 characters, e.g. payments-dev.")
    purpose = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="What runs here; shown to the approver and on the namespace.")
    tier = forms.ChoiceField(choices=[], initial="small", required=False,
                             help_text="A preset of quota and container defaults; change any value for a custom quota.")
    ttl_hours = forms.IntegerField(required=False, label="Lifetime (hours)", help_text="Optional: the namespace is deleted after this many hours. Leave empty to keep it.")
    pod_security_level = forms.ChoiceField(
        required=False, label="Pod security level",
        choices=[("", "Cluster default")] + list(PodSecurityLevel.choices),
        help_text="restricted is the default; baseline or privileged are exceptions a manager must approve.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer only teams the user may ask for (members and managers, not
        # viewers); the submit service checks again, this is just the menu.
        teams = Team.objects.filter(
            archived_at__isnull=True, memberships__user=user, memberships__role__in=[Membership.Role.MEMBER, Membership.Role.MANAGER]
        ).order_by("slug").distinct()
        self.fields["team"].queryset = teams
        self.tiers = {tier.name: tier for tier in QuotaTier.objects.all()}
        self.fields["tier"].choices = [(t.name, f"{t.display_name} ({t.description})" if t.description else t.display_name)
                                       for t in self.tiers.values()] + [("custom", "Custom")]
        for field_name, resource in QUOTA_FIELDS.items():
            self.fields[field_name] = forms.CharField(required=False, label=resource, strip=True)
        if not self.is_bound:
            for field_name, value in self.tier_initial(self.initial.get("tier") or "small").items():
                self.initial.setdefault(field_name, value)

    def tier_initial(self, tier: str) -> dict[str, str]:
        """Initial values of the quota fields for a tier (all blank for custom or an unknown tier)."""
        preset = self.tiers[tier].hard if tier in getattr(self, "tiers", {}) else {}
        return {field_name: preset.get(resource, "") for field_name, resource in QUOTA_FIELDS.items()}

    def quota_fields(self):
        """Bound quota fields in display order."""
        return [self[name] for name in QUOTA_FIELDS]

    def quota_and_tier(self) -> tuple[dict[str, str] | None, str | None]:
        """(explicit quota, None), or (None, tier) when the fields are the chosen tier's values or empty.

        A tier brings its container defaults with it; values edited by hand
        make a custom quota (defaults derived from it).
        """
        quota = {resource: self.cleaned_data.get(field_name) for field_name, resource in QUOTA_FIELDS.items()}
        quota = {resource: value for resource, value in quota.items() if value}
        tier = self.cleaned_data.get("tier") or ""
        if tier in self.tiers and (not quota or quota == self.tiers[tier].hard):
            return None, tier
        return quota or None, None

    def service_arguments(self) -> dict:
        """Keyword arguments for ``namespace_request_validate`` / ``_submit`` (call after is_valid).

        Tolerates fields that failed to clean (live validation checks the
        rest); submit only calls it on a fully valid form.
        """
        data = self.cleaned_data
        return {
            "team": data.get("team"),
            "cluster": data.get("cluster"),
            "name": data.get("name") or "",
            "purpose": data.get("purpose") or "",
            **dict(zip(("quota", "tier"), self.quota_and_tier(), strict=True)),
            "ttl_hours": data.get("ttl_hours"),
            "pod_security_level": data.get("pod_security_level") or None,
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError next to the fields it names.

        Quota messages come as ``"<resource>: <message>"`` under ``quota``;
        they go to that resource's field so the user sees which one is wrong.
        """
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self.add_error(None, message)
            return
        for field, messages in exc.message_dict.items():
            for message in messages:
                if field == "quota":
                    resource, sep, rest = message.partition(": ")
                    target = quota_field_name(resource)
                    if sep and target in self.fields:
                        self.add_error(target, rest)
                        continue
                    self.add_error(None, f"Quota: {message}")
                elif field in _PLAIN_FIELDS:
                    self.add_error(field, message)
                else:
                    self.add_error(None, message)


class ProtectForm(forms.Form):
    """The protect/unprotect buttons on the namespace detail page.

    An explicit target value rather than "toggle": a double click or a
    resubmitted form lands on the same state instead of flipping it back.
    """

    protected = forms.TypedChoiceField(choices=[("true", "Protect"), ("false", "Unprotect")],
                                       coerce=lambda value: value == "true")


class AdoptForm(forms.Form):
    """A platform admin names an existing namespace and the team it goes to (``namespace_adopt`` decides)."""

    cluster = forms.ModelChoiceField(queryset=Cluster.objects.order_by("name"), to_field_name="name", empty_label=None)
    name = forms.CharField(max_length=63)
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("slug"), to_field_name="slug",
                                  empty_label="choose the team that will own it")
    purpose = forms.CharField(max_length=200, required=False)
    # Step two: the uid shown in the preview, and the name typed again.
    confirm_uid = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    confirm_name = forms.CharField(max_length=63, required=False, label="Type the namespace name to confirm")

    def add_service_errors(self, exc: ValidationError) -> None:
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class ExtendForm(forms.Form):
    """"Extend" on a namespace with a TTL: how long from now, and why (the rules are ``extension_problems``')."""

    ttl_hours = forms.IntegerField(label="Keep it for (hours from now)", min_value=1,
                                   help_text="Counted from the approval; at most NAMESPACE_MAX_TTL_HOURS.")
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why it needs more time; shown to the approver.")

    def add_service_errors(self, exc) -> None:
        for field, messages in exc.message_dict.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
