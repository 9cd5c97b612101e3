"""Team and membership services. Membership changes re-drive the team's namespaces."""

from __future__ import annotations

from django.db import transaction

from apps.audit.services import audit_record
from apps.teams.models import Membership, Team


def team_create(*, actor, slug: str, name: str, contact: str = "") -> Team:
    """Create a team (platform admins; the seed command)."""
    with transaction.atomic():
        team = Team(slug=slug, name=name, contact=contact)
        team.full_clean()
        team.save()
        audit_record(actor=actor, action="team.create", target=team, team=team, after={"slug": slug, "name": name, "contact": contact})
    return team


def _resync_team_namespaces(team: Team) -> None:
    """After commit, reconcile every live namespace of the team (bindings follow membership)."""
    from apps.namespaces.tasks import reconcile_team  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_team.delay(team.pk))


def membership_add(*, actor, team: Team, user, role: str = Membership.Role.MEMBER) -> Membership:
    """Add ``user`` to ``team`` (or change their role); bindings follow on every cluster."""
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(team=team, user=user, defaults={"role": role})
        before = None if created else {"role": membership.role}
        if not created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        audit_record(actor=actor, action="membership.add" if created else "membership.change_role", target=membership,
                     team=team, before=before, after={"user": user.username, "team": team.slug, "role": role})
        _resync_team_namespaces(team)
    return membership
