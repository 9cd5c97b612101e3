"""Quota pages: ask for a namespace's quota to change; set a team's budget on a cluster (platform admins)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect

from apps.clusters.models import Cluster
from apps.core import quantities
from apps.core.htmx import render_page
from apps.namespaces.selectors import namespace_get_for_user
from apps.quotas.forms import QuotaChangeForm
from apps.quotas.models import TeamBudget
from apps.quotas.services import budget_set, quota_request_submit
from apps.teams.selectors import can_request_for_team, team_get_for_user


@login_required
def quota_change(request, pk: int):
    """"Change quota" on a namespace: members and managers of its team ask; a manager (or a rule) decides."""
    namespace = namespace_get_for_user(request.user, pk)  # 404 for outsiders
    if not can_request_for_team(request.user, namespace.team):
        raise PermissionDenied(f"only members of team {namespace.team.slug} can ask to change its namespaces' quota")
    form = QuotaChangeForm(request.POST or None, namespace=namespace)
    if request.method == "POST" and form.is_valid():
        try:
            created = quota_request_submit(actor=request.user, namespace=namespace, **form.service_arguments())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if created.decided_by_rule:
                messages.success(request, f"Approved by rule {created.decided_by_rule}; the new quota is being applied.")
            else:
                messages.success(request, f"Quota change for {namespace.name} requested; a manager of {namespace.team.slug} will decide.")
            return redirect("approvals:detail", pk=created.pk)
    return render_page(request, "quotas/change.html", {"form": form, "namespace": namespace})


class BudgetForm(forms.Form):
    namespaces = forms.IntegerField(required=False, min_value=0, label="Most namespaces",
                                    help_text="Blank for no limit")

    def __init__(self, *args, budget: TeamBudget | None, **kwargs):
        super().__init__(*args, **kwargs)
        for resource in quantities.QUOTA_RESOURCES:
            self.fields[f"hard_{resource.replace('.', '_')}"] = forms.CharField(required=False, label=resource, max_length=32)
        if budget is not None and not self.is_bound:
            self.initial["namespaces"] = budget.namespaces
            for resource, value in budget.hard.items():
                self.initial[f"hard_{resource.replace('.', '_')}"] = value

    def hard_fields(self):
        return [self[f"hard_{r.replace('.', '_')}"] for r in quantities.QUOTA_RESOURCES]

    def hard(self) -> dict:
        return {r: self.cleaned_data[f"hard_{r.replace('.', '_')}"].strip() for r in quantities.QUOTA_RESOURCES
                if self.cleaned_data.get(f"hard_{r.replace('.', '_')}", "").strip()}


@login_required
def budget_edit(request, slug: str, cluster: str):
    """A team's budget on one cluster (platform admins)."""
    team = team_get_for_user(request.user, slug)
    target = get_object_or_404(Cluster, name=cluster)
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins can set team budgets")
    budget = TeamBudget.objects.filter(team=team, cluster=target).first()
    form = BudgetForm(request.POST or None, budget=budget)
    if request.method == "POST" and form.is_valid():
        try:
            budget_set(actor=request.user, team=team, cluster=target, hard=form.hard(), namespaces=form.cleaned_data["namespaces"])
        except ValidationError as exc:
            for message in exc.message_dict.get("hard", exc.messages):
                form.add_error(None, message)
        else:
            messages.success(request, f"Budget of {team.slug} on {target.name} saved.")
            return redirect("teams:detail", slug=team.slug)
    return render_page(request, "quotas/budget_form.html", {"form": form, "team": team, "cluster": target})
