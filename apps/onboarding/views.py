"""Onboarding pages: join a team, get a kubeconfig, my credentials, the admin inventory and KPI.

Views decide nothing: selectors say what a user sees (404 for outsiders),
services apply the rules; their errors become form errors or messages.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.approvals.services import request_cancel
from apps.core.errors import ServiceError
from apps.core.htmx import render_page
from apps.onboarding import selectors
from apps.onboarding.forms import JoinTeamForm, KubeconfigForm
from apps.onboarding.services import KubeconfigIssueError, kubeconfig_issue, membership_request_submit

# Shown wherever access is taken away, because it surprises people.
CERTIFICATE_NOTICE = ("Kubernetes cannot revoke client certificates: certificates already issued stay valid until they "
                      "expire, but they grant nothing once the RoleBindings are gone.")


def _form_errors_from(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def join(request):
    """The team directory with "ask to join" (role and a note) for teams the user is not in."""
    form = JoinTeamForm(request.POST or None)
    error_team = None
    if request.method == "POST":
        team = selectors.team_for_joining(request.POST.get("team", ""))
        if form.is_valid():
            try:
                req = membership_request_submit(actor=request.user, team=team, role=form.cleaned_data["role"],
                                                note=form.cleaned_data["note"])
            except ValidationError as exc:
                _form_errors_from(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Asked to join {team.name} as {req.payload['role']}; a manager of the team decides.")
                return redirect("onboarding:join")
        error_team = team.slug
    teams = list(selectors.teams_for_joining(request.user))
    mine = selectors.membership_requests_visible_to(request.user).filter(requester=request.user)[:20]
    return render_page(request, "onboarding/join.html", {
        "teams": teams, "form": form, "blank_form": JoinTeamForm(), "error_team": error_team, "my_requests": mine,
    }, status=400 if error_team else 200)


def _kubeconfig_form(request, data=None, initial=None):
    clusters = list(selectors.kubeconfig_clusters_for(request.user))
    namespaces = list(selectors.kubeconfig_namespaces_for(request.user).select_related("team"))
    return KubeconfigForm(data, initial=initial, clusters=clusters, namespaces=namespaces), clusters, namespaces


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def kubeconfig(request):
    """Get a kubeconfig. Browser-key mode runs in ``keygen.js`` against the API; the other
    two modes post here and get the file as a download (shown once, never stored)."""
    initial = {}
    renews = None
    if request.GET.get("renew"):
        if not request.GET["renew"].isdigit():
            raise Http404("No such certificate")
        renews = selectors.own_certificate_get(request.user, int(request.GET["renew"]))
        initial = {"cluster": renews.cluster.name, "renews": renews.pk, "reason": f"renewal of #{renews.pk}",
                   "namespace": f"{renews.cluster.name}/{renews.namespace_name}" if renews.namespace_id else ""}
    form, clusters, namespaces = _kubeconfig_form(request, request.POST or None, initial)
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["mode"] != KubeconfigForm.MODE_BROWSER:
            data = form.cleaned_data
            cluster = selectors.kubeconfig_cluster_get(request.user, data["cluster"])
            namespace = selectors.kubeconfig_namespace_get(request.user, cluster, data["namespace_name"]) if data["namespace_name"] else None
            renews = selectors.own_certificate_get(request.user, data["renews"]) if data.get("renews") else None
            try:
                issued = kubeconfig_issue(actor=request.user, cluster=cluster, namespace=namespace,
                                          csr_pem=data["csr"] if data["mode"] == KubeconfigForm.MODE_CSR else None,
                                          reason=data["reason"], renews=renews)
            except ValidationError as exc:
                _form_errors_from(form, exc)
            except (PermissionDenied, KubeconfigIssueError) as exc:
                form.add_error(None, str(exc))
            else:
                response = HttpResponse(issued.kubeconfig, content_type="application/yaml")
                filename = f"kubeconfig-{cluster.name}-{request.user.get_username()}.yaml"
                response["Content-Disposition"] = f'attachment; filename="{filename}"'
                response["Cache-Control"] = "no-store"
                return response
        elif form.is_valid():
            form.add_error("mode", "in-browser key generation needs JavaScript; choose another way")
        status = 400
    return render_page(request, "onboarding/kubeconfig.html", {
        "form": form, "clusters": clusters, "namespaces": namespaces, "renews": renews,
        "identity": request.user.cluster_identity, "notice": CERTIFICATE_NOTICE,
        "api_url": reverse("kubeconfig-list"), "credentials_url": reverse("onboarding:credentials"),
        "in_team": request.user.is_platform_admin or request.user.memberships.exists(),
    }, status=status)


@login_required
def credentials(request):
    """My credentials: every certificate issued to me, expiry first, with "renew"."""
    certificates = selectors.certificates_of_user(request.user)[:200]
    return render_page(request, "onboarding/credentials.html", {
        "certificates": certificates, "now": timezone.now(), "notice": CERTIFICATE_NOTICE,
        "identity": request.user.cluster_identity,
    })


@login_required
def certificates_admin(request):
    """Every issued certificate (platform admins and auditors; 404 for everyone else)."""
    if not request.user.can_audit:
        raise Http404("No such page")
    qs = selectors.certificates_visible_to(request.user)
    user_filter = request.GET.get("user", "").strip()
    if user_filter:
        qs = qs.filter(user__username=user_filter)
    if request.GET.get("valid") == "1":
        qs = qs.filter(not_after__gt=timezone.now())
    return render_page(request, "onboarding/certificates_admin.html", {
        "certificates": qs[:500], "now": timezone.now(), "user_filter": user_filter,
        "valid_only": request.GET.get("valid") == "1", "notice": CERTIFICATE_NOTICE,
    }, partial="rows")


@login_required
def kpi(request):
    """The onboarding KPI: time from approval (system) and from submission (wall clock)."""
    if not request.user.can_audit:
        raise Http404("No such page")
    kpi_data = selectors.onboarding_kpi()
    return render_page(request, "onboarding/kpi.html", {
        "kpi": kpi_data, "recent": selectors.recent_onboardings(),
        "stats": [("System time from approval", kpi_data["from_approval"]),
                  ("From submission (including human waits)", kpi_data["from_submission"])],
    })


@login_required
@require_POST
def cancel_join(request, pk: int):
    """Withdraw my own pending join request."""
    req = selectors.membership_requests_visible_to(request.user).filter(pk=pk).first()
    if req is None:
        raise Http404("No such request")
    try:
        request_cancel(actor=request.user, request=req)
    except (PermissionDenied, ServiceError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Cancelled your request to join {req.team.name}.")
    return redirect("onboarding:join")
