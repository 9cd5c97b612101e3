"""Who sees and manages which team. The one place that decides it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from apps.teams.models import Membership, Team


def teams_visible_to(user) -> QuerySet[Team]:
    """Teams the user belongs to; admins and auditors see all."""
    if user.can_audit:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user).distinct()


def team_get_for_user(user, slug: str) -> Team:
    """The team, or 404 for anyone who may not see it (outsiders learn nothing)."""
    team = teams_visible_to(user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team")
    return team


def membership_role(user, team: Team) -> str | None:
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


def can_request_for_team(user, team: Team) -> bool:
    """Members and managers may ask for things; viewers only look."""
    return user.is_active and membership_role(user, team) in (Membership.Role.MEMBER, Membership.Role.MANAGER)


def can_manage_team(user, team: Team) -> bool:
    """Managers of the team and platform admins decide its requests."""
    return user.is_platform_admin or membership_role(user, team) == Membership.Role.MANAGER


def managed_team_ids(user) -> list[int] | None:
    """Ids of teams the user manages; None means every team (platform admin)."""
    if user.is_platform_admin:
        return None
    return list(Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values_list("team_id", flat=True))
