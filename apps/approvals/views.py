"""Request pages: detail with its timeline and what its kind shows (YAML, budget), the approval queue, and the decisions.

Who may see a request comes from ``request_get_for_user`` (outsiders get 404);
who may decide comes from ``approval_queue_for`` (the same rule the services
enforce: managers of the team or admins, never the requester). Every decision
goes through the request services; their refusals become messages.
"""

from __future__ import annotations

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
from apps.approvals.selectors import (
    approval_queue_for,
    request_budgets,
    request_get_for_user,
    request_preflight,
    request_preview,
    request_timeline,
)
from apps.approvals.services import request_approve, request_cancel, request_reject
from apps.core.errors import ServiceError
from apps.core.htmx import is_htmx, render_page

QUEUE_PAGE_SIZE = 25
# Kind-specific one-to-one extensions of a request (e.g. onboarding's record of
# a join request): their templates read them, so join them in the same query.
_KIND_EXTENSIONS = [rel.name for rel in Request._meta.related_objects if rel.one_to_one]


def _is_moving(req: Request, timeline: list[dict]) -> bool:
    """True while the timeline can change without anyone clicking (worth polling).

    Approved or applying, or its kind says work is under way (a busy last
    step: a namespace being applied or deleted).
    """
    return req.state in (Request.State.APPROVED, Request.State.APPLYING) or timeline[-1]["tone"] == "busy"


@login_required
@require_GET
def request_detail(request, pk: int):
    """A request's timeline, what its kind shows (for namespaces: the YAML, and the budget to deciders) and the buttons the user may use."""
    req = request_get_for_user(request.user, pk)
    timeline = request_timeline(req)
    context = {"req": req, "timeline": timeline, "polling": _is_moving(req, timeline)}
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
    context["preview"] = request_preview(req)
    if can_decide:
        context["budget"] = request_budgets([req]).get(req.pk, [])
        context["preflight"] = request_preflight(req)
    return render_page(request, "approvals/detail.html", context)


@login_required
@require_GET
def approval_queue(request):
    """Submitted requests the user may decide, oldest first, with the team's usage against its budget."""
    queue = approval_queue_for(request.user).select_related("namespace", *_KIND_EXTENSIONS)
    page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    budgets = request_budgets(list(page))
    items = [{"req": r, "budget": budgets.get(r.pk, [])} for r in page]
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
        messages.error(request, " ".join(f"{form.fields[f].label or f.capitalize()}: {' '.join(e)}" for f, e in form.errors.items()))
        return _after_decision(request, req)
    extra = {"override_reason": form.cleaned_data["override_reason"]} if service is request_approve else {}
    try:
        service(actor=request.user, request=req, reason=form.cleaned_data["reason"], **extra)
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
