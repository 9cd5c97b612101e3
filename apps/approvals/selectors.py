"""Reads of requests: who sees which, and each manager's queue."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.http import Http404

from apps.approvals.models import Request
from apps.core import quantities
from apps.namespaces.models import Namespace
from apps.teams.selectors import managed_team_ids


def requests_visible_to(user) -> QuerySet[Request]:
    """A user's own requests and those of their teams; admins and auditors see all."""
    qs = Request.objects.select_related("team", "requester", "decider", "cluster", "namespace")
    if user.can_audit:
        return qs
    return qs.filter(Q(requester=user) | Q(team__memberships__user=user)).distinct()


def request_get_for_user(user, pk) -> Request:
    request = requests_visible_to(user).filter(pk=pk).first()
    if request is None:
        raise Http404("No such request")
    return request


def approval_queue_for(user) -> QuerySet[Request]:
    """Submitted requests the user may decide: their teams' (or all for admins), never their own."""
    qs = Request.objects.select_related("team", "requester", "cluster").filter(state=Request.State.SUBMITTED).exclude(requester=user)
    team_ids = managed_team_ids(user)
    if team_ids is not None:
        qs = qs.filter(team_id__in=team_ids)
    return qs.order_by("created_at", "id")


def _step(title: str, tone: str, when=None, detail: str = "", error: str = "") -> dict:
    return {"title": title, "tone": tone, "when": when, "detail": detail, "error": error}


def request_timeline(req: Request) -> list[dict]:
    """The steps a request went through, as MISSION.md §3 lists them.

    submitted -> approved/rejected/cancelled (by whom, why) -> applying ->
    ready/failed (with the cluster's error) -> deleted. Namespace requests take
    the later steps from their namespace's phase, other kinds from the
    request's own state.
    """
    steps = [_step(f"Submitted by {req.requester.get_username()}", "ok", req.created_at)]
    state = Request.State
    if req.state == state.SUBMITTED:
        steps.append(_step("Waiting for a manager's decision", "wait"))
        return steps
    if req.state == state.CANCELLED:
        steps.append(_step(f"Cancelled by {req.requester.get_username()}", "muted", req.decided_at))
        return steps
    decider = req.decider.get_username() if req.decider_id else "someone"
    if req.state == state.REJECTED:
        steps.append(_step(f"Rejected by {decider}", "bad", req.decided_at, detail=req.reason))
        return steps
    steps.append(_step(f"Approved by {decider}", "ok", req.decided_at, detail=req.reason))
    namespace = req.namespace if req.namespace_id else None
    if namespace is None:
        # Kinds without a namespace (e.g. join requests) report on the request itself.
        if req.state in (state.APPROVED, state.APPLYING):
            steps.append(_step("Applying", "busy", req.started_at))
        elif req.state == state.DONE:
            steps.append(_step("Done", "ok", req.finished_at))
        elif req.state == state.FAILED:
            steps.append(_step("Failed", "bad", req.finished_at, error=req.last_error))
        return steps
    phase = Namespace.Phase
    attempts = f"attempt {namespace.attempts}" if namespace.attempts else ""
    if namespace.phase in (phase.PENDING, phase.PROVISIONING):
        detail = attempts
        if namespace.last_error:
            detail = f"{attempts}; retrying" if attempts else "retrying"
        steps.append(_step(f"Applying to cluster {namespace.cluster.name}", "busy", req.started_at, detail=detail, error=namespace.last_error))
        return steps
    steps.append(_step(f"Applied to cluster {namespace.cluster.name}", "ok", req.started_at, detail=attempts))
    if namespace.phase == phase.FAILED:
        steps.append(_step("Failed", "bad", namespace.updated_at, error=namespace.last_error or req.last_error))
    elif namespace.phase == phase.READY:
        steps.append(_step("Ready", "ok", namespace.applied_at))
    else:
        steps.append(_step("Ready", "ok", namespace.applied_at))
        if namespace.phase == phase.TERMINATING:
            steps.append(_step("Deleting", "busy"))
        else:
            steps.append(_step("Deleted", "muted", namespace.deleted_at))
    return steps


def team_usage(team_ids) -> dict[int, dict[str, Decimal]]:
    """Quota already granted per team: the sum of the hard values of its live namespaces.

    One query for all the teams on a page. Sums are quantities, never strings.
    """
    usage: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = Namespace.objects.filter(team_id__in=set(team_ids)).exclude(
        phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED]).values_list("team_id", "quota")
    for team_id, quota in rows:
        for resource, value in (quota or {}).items():
            try:
                usage[team_id][resource] += quantities.parse(value)
            except ValueError:
                continue
    return usage


def budget_rows(req: Request, usage: dict[int, dict[str, Decimal]]) -> list[dict]:
    """For each resource of the team's budget: granted now, this request, and the budget.

    Empty when the team has no budget (nothing to compare against).
    """
    rows = []
    asked = (req.payload or {}).get("quota") or {}
    granted = usage.get(req.team_id, {})
    for resource, raw_budget in (req.team.budget or {}).items():
        try:
            budget = quantities.parse(raw_budget)
            extra = quantities.parse(asked[resource]) if resource in asked else Decimal(0)
        except ValueError:
            continue
        now = granted.get(resource, Decimal(0))
        after = now + extra
        rows.append({
            "resource": resource,
            "granted": quantities.format_quantity(now, resource),
            "asked": asked.get(resource, "—"),
            "budget": raw_budget,
            "percent": int(min(100, after * 100 / budget)) if budget > 0 else 100,
            "over": after > budget,
        })
    return rows
