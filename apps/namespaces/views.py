"""Namespace pages: the "My namespaces" dashboard, the request form with live
validation, the namespace detail with its bundle, deletion, and protection
from the TTL reaper.

Views only translate HTTP to selector/service calls: visibility comes from
``namespaces_visible_to``/``namespace_get_for_user`` (outsiders get 404) and
every change goes through a service.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.approvals.selectors import requests_visible_to
from apps.core.errors import ServiceError
from apps.core.htmx import is_htmx, render_page
from apps.core.templatetags.portal_ui import UNSETTLED_PHASES
from apps.namespaces.extensions import extension_problems, extension_request_submit
from apps.namespaces.filters import NamespaceFilterSet
from apps.namespaces.forms import QUOTA_FIELDS, AdoptForm, ExtendForm, NamespaceRequestForm, ProtectForm
from apps.namespaces.manifests import to_yaml
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import bundle_for_namespace, namespace_get_for_user, namespaces_visible_to
from apps.namespaces.services import (
    namespace_adopt,
    namespace_adoption_preview,
    namespace_request_submit,
    namespace_request_validate,
    namespace_set_protected,
)
from apps.namespaces.services import namespace_delete as delete_service
from apps.teams.selectors import can_manage_team, can_request_for_team, teams_visible_to

DASHBOARD_PAGE_SIZE = 50
MY_REQUESTS_SHOWN = 10
# Request states that still move without a human (worth polling for).
_MOVING_REQUEST_STATES = ("approved", "applying")
# Polling intervals: fast while the worker is at it, slow while a request
# waits for a manager (that can take hours; the page should still notice).
_POLL_MOVING, _POLL_WAITING = "2s", "15s"


@login_required
@require_GET
def dashboard(request):
    """The user's teams' namespaces with live phase badges, and their latest requests.

    The ``live`` partial polls itself only while something can still change:
    every 2 s while a namespace is Pending/Provisioning/Terminating or a
    request is being applied, every 15 s while one of the user's requests
    waits for a decision. Once everything has settled the partial comes back
    without ``hx-trigger`` and the polling stops.
    """
    filterset = NamespaceFilterSet(request.GET, queryset=namespaces_visible_to(request.user).order_by("team__slug", "name"))
    namespaces = filterset.qs
    if not request.GET.get("phase"):
        # Deleted rows stay for history; show them only when asked for.
        namespaces = namespaces.exclude(phase=Namespace.Phase.DELETED)
    page = _page_of_rows(namespaces, request.GET.get("page"))
    my_requests = list(requests_visible_to(request.user).filter(requester=request.user).order_by("-created_at", "-id")[:MY_REQUESTS_SHOWN])
    moving = any(ns.phase in UNSETTLED_PHASES for ns in page) or any(
        r.state in _MOVING_REQUEST_STATES or (r.namespace_id and r.namespace.phase in UNSETTLED_PHASES) for r in my_requests
    )
    waiting = any(r.state == "submitted" for r in my_requests)
    poll_every = _POLL_MOVING if moving else _POLL_WAITING if waiting else ""
    context = {"filterset": filterset, "page": page, "my_requests": my_requests, "polling": bool(poll_every), "poll_every": poll_every}
    if not is_htmx(request):
        # Only the full page has the filter bar; polls skip this query.
        context["teams"] = list(teams_visible_to(request.user).values_list("slug", flat=True))
    return render_page(request, "namespaces/dashboard.html", context, partial="live")


def _page_of_rows(namespaces, number):
    """One dashboard page: the page's ids are sorted and cut first (narrow rows), then only those rows are
    read with their joins, so the page costs the same at 100 namespaces as at 10,000."""
    page = Paginator(namespaces.values_list("pk", flat=True), DASHBOARD_PAGE_SIZE).get_page(number)
    rows = {ns.pk: ns for ns in Namespace.objects.filter(pk__in=list(page.object_list)).select_related("cluster", "team", "owner")}
    page.object_list = [rows[pk] for pk in page.object_list if pk in rows]
    return page


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request):
    """The namespace request form; on submit ``namespace_request_submit`` decides.

    Errors (from the form's types or the service's rules) are shown next to
    the fields and nothing is created.
    """
    if request.method == "POST":
        form = NamespaceRequestForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                created = namespace_request_submit(actor=request.user, **form.service_arguments())
            except ValidationError as exc:
                form.add_service_errors(exc)
            except PermissionDenied as exc:
                messages.error(request, str(exc) or "You may not request namespaces for this team.")
            else:
                messages.success(request, f'Namespace "{created.name}" requested; a manager of {created.team.slug} will decide.')
                return redirect("approvals:detail", pk=created.pk)
        status = 400
    else:
        initial = {}
        if request.GET.get("team"):
            initial["team"] = request.GET["team"]
        form = NamespaceRequestForm(initial=initial, user=request.user)
        status = 200
    return render_page(request, "namespaces/request_form.html", {"form": form}, status=status)


@login_required
@require_POST
def request_validate(request):
    """Live validation while typing: the same checks as submit, nothing saved.

    Returns the ``live`` partial (a status line) plus out-of-band error slots
    for every field, so messages appear next to the fields without replacing
    the inputs the user is typing into. Fields still empty are not nagged
    about; that happens on submit.
    """
    form = NamespaceRequestForm(request.POST, user=request.user)
    # Ask the service even when some field has a type error (say a TTL that
    # is not a number), so the name is still checked while the user types.
    if form.is_valid() or form.cleaned_data.get("team"):
        try:
            namespace_request_validate(**form.service_arguments())
        except ValidationError as exc:
            form.add_service_errors(exc)
    slots = []
    for name in list(form.fields) + ["__all__"]:
        shown = []
        # Don't nag about fields the user has not reached yet (submit will).
        if name in form.errors and (name == "__all__" or name in QUOTA_FIELDS or request.POST.get(name, "").strip()):
            shown = list(form.errors[name])
        slots.append((name, shown))
    error_count = sum(len(errors) for _, errors in slots)
    context = {"slots": slots, "has_errors": bool(error_count), "error_count": error_count}
    # Always the fragment: this endpoint exists only for htmx.
    response = render(request, "namespaces/request_form.html#validation", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@login_required
@require_GET
def request_quota_fields(request):
    """The quota fieldset filled with a tier's preset (htmx swaps it in when the tier changes)."""
    tier = request.GET.get("tier", "small")
    form = NamespaceRequestForm(initial={"tier": tier}, user=request.user)
    return render_page(request, "namespaces/request_form.html", {"form": form}, partial="quota")


def _can_delete(user, namespace) -> bool:
    """Whether to offer the delete button; ``namespace_delete`` decides for real."""
    return namespace.is_live and can_manage_team(user, namespace.team)


@login_required
@require_GET
def namespace_detail(request, pk: int):
    """One namespace: phase, error and attempts (polled while moving), quota, and its objects as YAML."""
    namespace = namespace_get_for_user(request.user, pk)
    context = {"namespace": namespace, "polling": namespace.phase in UNSETTLED_PHASES}
    if is_htmx(request):
        return render_page(request, "namespaces/detail.html", context, partial="status")
    objects = bundle_for_namespace(namespace)
    context.update({
        "objects": objects,
        "yaml": to_yaml(objects),
        "can_delete": _can_delete(request.user, namespace),
        # Same rule as deleting: whoever may delete it may exempt it from the reaper.
        "can_protect": _can_delete(request.user, namespace),
        "origin_request": namespace.requests.order_by("created_at", "id").first(),
        "can_change_quota": namespace.is_live and can_request_for_team(request.user, namespace.team),
        "can_extend": (namespace.is_live and namespace.expires_at is not None and not namespace.protected
                       and can_request_for_team(request.user, namespace.team)),
    })
    return render_page(request, "namespaces/detail.html", context)


@login_required
@require_GET
def namespace_manifests(request, pk: int):
    """The namespace's bundle as a YAML stream download (the escape hatch: plain kubectl apply -f)."""
    namespace = namespace_get_for_user(request.user, pk)
    response = HttpResponse(to_yaml(bundle_for_namespace(namespace)), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{namespace.cluster.name}-{namespace.name}.yaml"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def namespace_delete(request, pk: int):
    """Confirm, then delete the namespace on its cluster through ``namespace_delete``."""
    namespace = namespace_get_for_user(request.user, pk)
    if request.method == "POST":
        try:
            delete_service(actor=request.user, namespace=namespace)
        except (PermissionDenied, ServiceError, ValidationError) as exc:
            messages.error(request, _message(exc))
        else:
            messages.success(request, f'Namespace "{namespace.name}" is being deleted from cluster {namespace.cluster.name}.')
        return redirect(reverse("namespaces:detail", args=[namespace.pk]))
    return render_page(request, "namespaces/confirm_delete.html", {"namespace": namespace})


@login_required
@require_POST
def namespace_protect(request, pk: int):
    """Set or clear the ``protected`` flag (never reaped) through ``namespace_set_protected``."""
    namespace = namespace_get_for_user(request.user, pk)
    form = ProtectForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("protected must be true or false")
    protected = form.cleaned_data["protected"]
    try:
        namespace_set_protected(actor=request.user, namespace=namespace, protected=protected)
    except (PermissionDenied, ServiceError, ValidationError) as exc:
        messages.error(request, _message(exc))
    else:
        if protected:
            messages.success(request, f'Namespace "{namespace.name}" is protected: the TTL reaper will not delete it.')
        else:
            messages.success(request, f'Namespace "{namespace.name}" is no longer protected: it is deleted when its TTL expires.')
    return redirect(reverse("namespaces:detail", args=[namespace.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def namespace_extend(request, pk: int):
    """"Extend" a namespace's lifetime: members and managers of its team ask; a manager (or a rule) decides."""
    namespace = namespace_get_for_user(request.user, pk)  # 404 for outsiders
    if not can_request_for_team(request.user, namespace.team):
        raise PermissionDenied(f"only members of team {namespace.team.slug} can ask to extend its namespaces")
    form = ExtendForm(request.POST or None, initial={"ttl_hours": 7 * 24})
    # Said before the form is filled in: a namespace without a TTL, protected or being deleted cannot be extended.
    blocked = extension_problems(namespace, 1).get("namespace", [])
    if request.method == "POST" and form.is_valid() and not blocked:
        try:
            created = extension_request_submit(actor=request.user, namespace=namespace, ttl_hours=form.cleaned_data["ttl_hours"],
                                               reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if created.decided_by_rule:
                messages.success(request, f"Approved by rule {created.decided_by_rule}: {namespace.name} now expires "
                                          f"{created.payload['ttl_hours']} hours from now.")
            else:
                messages.success(request, f"Extension of {namespace.name} requested; a manager of {namespace.team.slug} will decide.")
            return redirect("approvals:detail", pk=created.pk)
    return render_page(request, "namespaces/extend.html", {"form": form, "namespace": namespace, "blocked": blocked})


@login_required
@require_http_methods(["GET", "POST"])
def namespace_adopt_view(request):
    """Platform admins only: hand an existing namespace to a team, in two steps.

    Step one (no ``confirm_uid``) reads the namespace from the cluster and
    shows it with the exact bundle that would be applied; step two carries
    the uid seen there and the name typed again, and adopts.
    """
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins can adopt an existing namespace")
    form = AdoptForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if not data["confirm_uid"]:
                preview = namespace_adoption_preview(actor=request.user, cluster=data["cluster"], name=data["name"], team=data["team"])
                context.update({"preview": preview, "yaml": to_yaml(preview.objects),
                                "confirm": AdoptForm(initial={**data, "cluster": data["cluster"].name, "team": data["team"].slug,
                                                              "confirm_uid": preview.cluster_uid})})
            elif data["confirm_name"] != data["name"]:
                form.add_error("confirm_name", f'type "{data["name"]}" to confirm')
            else:
                namespace = namespace_adopt(actor=request.user, cluster=data["cluster"], name=data["name"], team=data["team"],
                                            confirm_uid=data["confirm_uid"], purpose=data["purpose"])
                messages.success(request, f'Namespace "{namespace.name}" is adopted by team {namespace.team.slug}; the portal now applies its bundle.')
                return redirect(reverse("namespaces:detail", args=[namespace.pk]))
        except ValidationError as exc:
            form.add_service_errors(exc)
    return render_page(request, "namespaces/adopt.html", context, status=400 if form.errors else 200)


def _message(exc: Exception) -> str:
    """Readable text of a service error (ValidationError carries a list)."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "This is not allowed."
