"""Team pages: my teams, a team's members, direct membership management for managers,
and team administration (create, edit, archive) for platform admins and, for a
team's description and contact, its managers.

Selectors decide who sees a team (404 for outsiders) and who manages it;
the services apply the rules (last manager stays, audit, reconcile).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.approvals.models import Request
from apps.core.errors import ServiceError
from apps.core.htmx import render_page
from apps.namespaces.selectors import namespaces_of_team
from apps.teams.forms import AddMemberForm, ChangeRoleForm, TeamForm
from apps.teams.models import Membership
from apps.teams.selectors import can_manage_team, team_get_for_user, teams_with_counts
from apps.teams.services import (
    MANAGER_EDITABLE,
    TEAM_FIELDS,
    membership_add,
    membership_change_role,
    membership_remove,
    team_archive,
    team_create,
    team_restore,
    team_update,
    user_deactivate,
)

NAMESPACES_SHOWN = 20
CERTIFICATE_NOTICE = ("Removing someone deletes their RoleBindings in every namespace of the team in one reconcile pass. "
                      "Certificates already issued stay valid until they expire (Kubernetes cannot revoke them), "
                      "but they grant nothing without the bindings.")


@login_required
def team_list(request):
    """The teams I belong to (admins and auditors: all), with my role and the member count."""
    teams = teams_with_counts(request.user).order_by("archived_at", "slug")  # live teams first, archived (non-null) last
    return render_page(request, "teams/list.html", {"teams": teams})


def _detail_context(request, team, add_form=None):
    manage = can_manage_team(request.user, team)
    members = Membership.objects.filter(team=team).select_related("user").order_by("user__username")
    pending = Request.objects.filter(team=team, kind=Request.Kind.MEMBERSHIP, state=Request.State.SUBMITTED).select_related("requester")
    return {
        "team": team, "members": members, "can_manage": manage, "pending": pending,
        "can_edit": manage, "budget": sorted((team.budget or {}).items()),
        # The newest few; the dashboard lists them all (a team may have thousands).
        "namespaces": list(namespaces_of_team(team).select_related("cluster").order_by("-pk")[:NAMESPACES_SHOWN]),
        "namespace_count": namespaces_of_team(team).count(),
        "add_form": add_form or AddMemberForm(), "roles": Membership.Role.choices, "notice": CERTIFICATE_NOTICE,
        "my_membership": next((m for m in members if m.user_id == request.user.pk), None),
    }


@login_required
def team_detail(request, slug: str):
    team = team_get_for_user(request.user, slug)
    return render_page(request, "teams/detail.html", _detail_context(request, team), partial="members")


def _managed_team(request, slug: str):
    team = team_get_for_user(request.user, slug)  # 404 for outsiders first
    return team


def _service_errors(request, exc) -> None:
    if isinstance(exc, ValidationError):
        for msg in exc.messages:
            messages.error(request, msg)
    else:
        messages.error(request, str(exc))


@login_required
@require_POST
def member_add(request, slug: str):
    team = _managed_team(request, slug)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            membership = membership_add(actor=request.user, team=team, user=form.cleaned_data["user"], role=form.cleaned_data["role"])
        except (ValidationError, PermissionDenied, ServiceError) as exc:
            _service_errors(request, exc)
        else:
            messages.success(request, f"{membership.user.username} is now {membership.role} of {team.slug}; "
                                      "their RoleBindings are being applied to the team's namespaces.")
            return redirect("teams:detail", slug=team.slug)
    return render_page(request, "teams/detail.html", _detail_context(request, team, form), status=400)


def _membership(team, pk) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user", "team"), team=team, pk=pk)


@login_required
@require_POST
def member_role(request, slug: str, pk: int):
    team = _managed_team(request, slug)
    membership = _membership(team, pk)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "choose a valid role")
        return redirect("teams:detail", slug=team.slug)
    try:
        membership = membership_change_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
    except (ValidationError, PermissionDenied, ServiceError) as exc:
        _service_errors(request, exc)
    else:
        messages.success(request, f"{membership.user.username} is now {membership.role}; the bindings follow.")
    return redirect("teams:detail", slug=team.slug)


@login_required
@require_POST
def member_remove(request, slug: str, pk: int):
    team = _managed_team(request, slug)
    membership = _membership(team, pk)
    leaving = membership.user_id == request.user.pk
    try:
        membership_remove(actor=request.user, membership=membership)
    except (ValidationError, PermissionDenied, ServiceError) as exc:
        _service_errors(request, exc)
        return redirect("teams:detail", slug=team.slug)
    messages.success(request, f"{'You left' if leaving else membership.user.username + ' was removed from'} {team.slug}. "
                              + CERTIFICATE_NOTICE)
    if leaving and not can_manage_team(request.user, team) and not request.user.can_audit:
        return redirect("teams:list")
    return redirect("teams:detail", slug=team.slug)


@login_required
@require_POST
def user_deactivate_view(request, pk: int):
    """Platform admins deactivate a user: no login, no tokens, no bindings anywhere."""
    if not request.user.is_platform_admin:
        raise Http404("No such page")
    user = get_object_or_404(User, pk=pk)
    try:
        user_deactivate(actor=request.user, user=user)
    except (PermissionDenied, ServiceError) as exc:
        _service_errors(request, exc)
    else:
        messages.success(request, f"{user.username} is deactivated and removed from every team. " + CERTIFICATE_NOTICE)
    return redirect(request.POST.get("next") if str(request.POST.get("next", "")).startswith("/teams/") else "teams:list")


# --- team administration --------------------------------------------------------------------------


@login_required
def team_new(request):
    """Create a team with its first manager (platform admins)."""
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins can create teams")
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            team = team_create(actor=request.user, slug=data["slug"], name=data["name"], description=data["description"],
                               contact=data["contact"], budget=data["budget"], manager=data["manager"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Team {team.slug} is created." + (
                f" {data['manager'].username} is its manager." if data["manager"] else " Add its first manager below."))
            return redirect("teams:detail", slug=team.slug)
    return render_page(request, "teams/form.html", {"form": form, "team": None})


@login_required
def team_edit(request, slug: str):
    """Edit a team: platform admins everything, its managers the description and contact."""
    team = team_get_for_user(request.user, slug)  # 404 for outsiders first
    if request.user.is_platform_admin:
        editable = set(TEAM_FIELDS)
        if team.namespaces.exists():
            editable.discard("slug")  # on every cluster object of the team: see team_update
    elif can_manage_team(request.user, team):
        editable = set(MANAGER_EDITABLE)
    else:
        raise PermissionDenied(f"only managers of team {team.slug} or a platform admin can edit it")
    form = TeamForm(request.POST or None, team=team, editable=editable)
    if request.method == "POST" and form.is_valid():
        try:
            updated = team_update(actor=request.user, team=team, **form.changes())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Team {updated.slug} is saved.")
            return redirect("teams:detail", slug=updated.slug)
    return render_page(request, "teams/form.html", {"form": form, "team": team, "editable": editable})


@login_required
@require_POST
def team_archive_view(request, slug: str):
    team = team_get_for_user(request.user, slug)
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins can archive teams")
    try:
        team_archive(actor=request.user, team=team)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Team {team.slug} is archived: it keeps its history and takes no new requests.")
    return redirect("teams:detail", slug=team.slug)


@login_required
@require_POST
def team_restore_view(request, slug: str):
    team = team_get_for_user(request.user, slug)
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins can restore teams")
    try:
        team_restore(actor=request.user, team=team)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Team {team.slug} is restored and takes requests again.")
    return redirect("teams:detail", slug=team.slug)
