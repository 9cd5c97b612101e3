"""Who sees and manages which team. The one place that decides it."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from apps.teams.models import Membership, Team


def teams_visible_to(user) -> QuerySet[Team]:
    """Teams the user belongs to; admins and auditors see all."""
    if user.can_audit:
        return Team.objects.all()
    # A subquery, not a join: no duplicate rows to DISTINCT away, whatever the team sizes.
    return Team.objects.filter(pk__in=Membership.objects.filter(user=user).values("team_id"))


def teams_with_counts(user) -> QuerySet[Team]:
    """``teams_visible_to`` annotated with ``member_count`` (every member of the team, not only the viewer's own
    membership the visibility filter joins) and ``my_role``: one query for any number of teams."""
    my_role = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
    member_count = Membership.objects.filter(team=OuterRef("pk")).order_by().values("team").annotate(n=Count("pk")).values("n")
    # Coalesce: a team without members has no row in the subquery (NULL); it has 0 members.
    return teams_visible_to(user).annotate(member_count=Coalesce(Subquery(member_count), 0), my_role=Subquery(my_role))


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
