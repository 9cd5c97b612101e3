"""Reads of requests: who sees which, each manager's queue, and what the request pages show."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from apps.approvals.kinds import request_kind, step
from apps.approvals.models import Request
from apps.core.errors import ClusterError
from apps.teams.models import Membership
from apps.teams.selectors import managed_team_ids


def requests_visible_to(user) -> QuerySet[Request]:
    """A user's own requests and those of their teams; admins and auditors see all."""
    qs = Request.objects.select_related("team", "requester", "decider", "cluster", "namespace")
    if user.can_audit:
        return qs
    return qs.filter(Q(requester=user) | Q(team_id__in=Membership.objects.filter(user=user).values("team_id")))


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


def request_timeline(req: Request) -> list[dict]:
    """The steps a request went through: submitted -> approved/rejected/cancelled (by whom, why) -> what followed.

    After the approval, the kind's ``progress`` hook tells the story (a
    namespace request follows its namespace: applying, ready or failed with
    the cluster's error, deleted); kinds without one, or that have nothing to
    say, are told from the request's own state.
    """
    steps = [step(f"Submitted by {req.requester.get_username()}", "ok", req.created_at)]
    state = Request.State
    if req.state == state.SUBMITTED:
        steps.append(step("Waiting for a manager's decision", "wait"))
        return steps
    if req.state == state.CANCELLED:
        steps.append(step(f"Cancelled by {req.requester.get_username()}", "muted", req.decided_at))
        return steps
    decider = req.decider.get_username() if req.decider_id else (f"rule {req.decided_by_rule}" if req.decided_by_rule else "someone")
    if req.state == state.REJECTED:
        steps.append(step(f"Rejected by {decider}", "bad", req.decided_at, detail=req.reason))
        return steps
    steps.append(step(f"Approved by {decider}", "ok", req.decided_at, detail=req.reason))
    progress = request_kind(req.kind).progress
    later = progress(req) if progress is not None else None
    if later is not None:
        return steps + later
    if req.state in (state.APPROVED, state.APPLYING):
        steps.append(step("Applying", "busy", req.started_at))
    elif req.state == state.DONE:
        steps.append(step("Done", "ok", req.finished_at))
    elif req.state == state.FAILED:
        steps.append(step("Failed", "bad", req.finished_at, error=req.last_error))
    return steps


def request_preview(req: Request) -> str:
    """What approving ``req`` applies, as its kind shows it (YAML for namespaces); "" when the kind shows nothing."""
    preview = request_kind(req.kind).preview
    return preview(req) if preview is not None else ""


def request_budgets(requests: list[Request]) -> dict[int, list[dict]]:
    """For each request id, its team's usage against the budget if approved (kinds that have a budget)."""
    budgets: dict[int, list[dict]] = {}
    for kind in {r.kind for r in requests}:
        budget = request_kind(kind).budget
        if budget is not None:
            budgets.update(budget([r for r in requests if r.kind == kind]))
    return budgets


def request_preflight(req: Request) -> dict | None:
    """The cluster's verdict on approving ``req`` (its kind's dry run), or None for kinds without one.

    ``{"items": [...], "denied": bool, "error": ""}``; when the cluster cannot
    be reached, ``error`` says so and nothing is a denial.
    """
    preflight = request_kind(req.kind).preflight
    if preflight is None or req.cluster_id is None:
        return None
    try:
        items = preflight(req)
    except ClusterError as exc:
        return {"items": [], "denied": False, "needs_override": False, "error": f"could not ask cluster {req.cluster.name}: {exc}"}
    return {"items": items, "denied": any(i.outcome == "denied" for i in items), "error": "",
            "needs_override": any(i.outcome == "denied" and i.overridable for i in items)}
