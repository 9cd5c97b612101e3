"""Request pages: detail with its timeline and YAML preview, the approval queue, and the decisions.

Who may see a request comes from ``request_get_for_user`` (outsiders get 404);
who may decide comes from ``approval_queue_for`` (the same rule the services
enforce: managers of the team or admins, never the requester). Every decision
goes through the request services; their refusals become messages.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.loader import select_template
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.approvals.forms import DecisionForm
from apps.approvals.models import Request
from apps.approvals.selectors import approval_queue_for, request_get_for_user
from apps.approvals.services import request_approve, request_cancel, request_reject
from apps.core import quantities
from apps.core.errors import ServiceError
from apps.core.htmx import is_htmx, render_page
from apps.core.templatetags.portal_ui import UNSETTLED_PHASES
from apps.namespaces.manifests import to_yaml
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import bundle_for_request

QUEUE_PAGE_SIZE = 25
# Kind-specific one-to-one extensions of a request (e.g. onboarding's record of
# a join request): their templates read them, so join them in the same query.
_KIND_EXTENSIONS = [rel.name for rel in Request._meta.related_objects if rel.one_to_one]


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


def _is_moving(req: Request) -> bool:
    """True while the timeline can change without anyone clicking (worth polling)."""
    if req.state in (Request.State.APPROVED, Request.State.APPLYING):
        return True
    return bool(req.namespace_id and req.namespace.phase in UNSETTLED_PHASES)


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


@login_required
@require_GET
def request_detail(request, pk: int):
    """A request's timeline, kind-specific details (YAML for namespaces) and the buttons the user may use."""
    req = request_get_for_user(request.user, pk)
    context = {"req": req, "timeline": request_timeline(req), "polling": _is_moving(req)}
    if is_htmx(request):
        context["oob_state"] = True
        return render_page(request, "approvals/detail.html", context, partial="timeline")
    can_decide = approval_queue_for(request.user).filter(pk=req.pk).exists()
    context.update({
        "can_decide": can_decide,
        # The service re-checks; this only decides whether to show the button.
        "can_cancel": req.requester_id == request.user.pk and req.state == Request.State.SUBMITTED,
        "decision_form": DecisionForm(),
        "kind_template": select_template([f"approvals/kinds/{req.kind}.html", "approvals/kinds/generic.html"]).template.name,
    })
    if req.kind == Request.Kind.NAMESPACE and req.cluster_id:
        context["yaml"] = to_yaml(bundle_for_request(req))
        if can_decide:
            context["budget"] = budget_rows(req, team_usage([req.team_id]))
    return render_page(request, "approvals/detail.html", context)


@login_required
@require_GET
def approval_queue(request):
    """Submitted requests the user may decide, oldest first, with the team's usage against its budget."""
    queue = approval_queue_for(request.user).select_related(*_KIND_EXTENSIONS)
    page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    usage = team_usage(r.team_id for r in page)
    items = [{"req": r, "budget": budget_rows(r, usage)} for r in page]
    return render_page(request, "approvals/queue.html", {"page": page, "items": items, "decision_form": DecisionForm()})


def _service_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "This is not allowed."


def _after_decision(request, req: Request):
    """htmx (queue): the row, now decided, plus the messages; otherwise back where the user came from."""
    if is_htmx(request):
        req = request_get_for_user(request.user, req.pk)
        return render_page(request, "approvals/queue.html", {"item": {"req": req, "budget": []}, "decided": True}, partial="row")
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(next_url)
    return redirect(reverse("approvals:detail", args=[req.pk]))


def _decide(request, pk: int, service, done_message: str):
    req = request_get_for_user(request.user, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Reason: " + " ".join(form.errors["reason"]))
        return _after_decision(request, req)
    try:
        service(actor=request.user, request=req, reason=form.cleaned_data["reason"])
    except (PermissionDenied, ServiceError, ValidationError) as exc:
        messages.error(request, _service_message(exc))
    else:
        messages.success(request, done_message.format(req=req))
    return _after_decision(request, req)


@login_required
@require_POST
def request_approve_view(request, pk: int):
    """Approve through ``request_approve`` (four-eyes and decide-once are the service's rules)."""
    return _decide(request, pk, request_approve, "Request #{req.pk} approved.")


@login_required
@require_POST
def request_reject_view(request, pk: int):
    """Reject through ``request_reject``; the reason is shown on the requester's timeline."""
    return _decide(request, pk, request_reject, "Request #{req.pk} rejected.")


@login_required
@require_POST
def request_cancel_view(request, pk: int):
    """The requester withdraws their own undecided request."""
    req = request_get_for_user(request.user, pk)
    try:
        request_cancel(actor=request.user, request=req)
    except (PermissionDenied, ServiceError, ValidationError) as exc:
        messages.error(request, _service_message(exc))
    else:
        messages.success(request, f"Request #{req.pk} cancelled.")
    return redirect(reverse("approvals:detail", args=[req.pk]))
