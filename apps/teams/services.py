"""Team and membership services. Membership changes re-drive the team's namespaces."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.teams.models import Membership, Team
from apps.teams.selectors import can_manage_team


def team_create(*, actor, slug: str, name: str, contact: str = "") -> Team:
    """Create a team (platform admins; the seed command)."""
    with transaction.atomic():
        team = Team(slug=slug, name=name, contact=contact)
        team.full_clean()
        team.save()
        audit_record(actor=actor, action=Action.TEAM_CREATE, target=team, team=team, after={"slug": slug, "name": name, "contact": contact})
    return team


def _resync_team_namespaces(team: Team) -> None:
    """After commit, reconcile every live namespace of the team (bindings follow membership)."""
    from apps.namespaces.tasks import reconcile_team  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_team.delay(team.pk))


def membership_add(*, actor, team: Team, user, role: str = Membership.Role.MEMBER,
                   change_existing: bool = True) -> Membership:
    """Add ``user`` to ``team`` (or change their role); bindings follow on every cluster.

    ``actor`` must manage the team (or be a platform admin); ``None`` is the
    system itself (seed command). With ``change_existing=False`` (the REST
    API, where creating and changing are different verbs) someone already in
    the team is a ``ValidationError`` on ``user`` instead of a role change;
    the check runs under the team lock, so two concurrent adds cannot both
    pass it.
    """
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"must be one of {', '.join(Membership.Role.values)}"]})
    if not user.is_active:
        raise ValidationError({"user": [f"{user.get_username()} is deactivated"]})
    with transaction.atomic():
        _require_manager(actor, team)
        _lock_team(team.pk)
        existing = Membership.objects.select_for_update().filter(team=team, user=user).first()
        if existing is not None and not change_existing:
            raise ValidationError({"user": [f"{user.get_username()} is already {existing.role} of {team.slug}; "
                                            "change their role instead"]})
        if existing is not None:
            # Same rules as a role change (the last manager stays a manager).
            return membership_change_role(actor=actor, membership=existing, role=role)
        membership = Membership.objects.create(team=team, user=user, role=role)
        audit_record(actor=actor, action=Action.MEMBERSHIP_ADD, target=membership, team=team,
                     after={"user": user.username, "team": team.slug, "role": role})
        _resync_team_namespaces(team)
    return membership


# --- Membership management (managers and admins) -------------------------------------

def _require_manager(actor, team: Team) -> None:
    # ``actor=None`` is the system (seed command, migrations): trusted callers only.
    if actor is not None and not can_manage_team(actor, team):
        raise PermissionDenied(f"only managers of team {team.slug} or a platform admin can change its members")


def _lock_team(team_id: int) -> None:
    """Serialise membership changes of one team until the transaction ends.

    Row locks on memberships alone are not enough: two managers demoting each
    other each lock only their own row, both see "another manager exists" and
    the team ends up with none; two adds of the same newcomer both find no row
    and one dies on the unique constraint. Every writer takes the team row
    first (always before membership rows, so the lock order is fixed).
    """
    list(Team.objects.select_for_update().filter(pk=team_id).values_list("pk", flat=True))


def _other_managers(membership: Membership) -> bool:
    return Membership.objects.filter(team_id=membership.team_id, role=Membership.Role.MANAGER).exclude(pk=membership.pk).exists()


def membership_change_role(*, actor, membership: Membership, role: str) -> Membership:
    """Change a member's role (member ↔ viewer ↔ manager); the RoleBindings follow.

    A team always keeps one manager, otherwise nobody but a platform admin
    could decide its requests any more.
    """
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"must be one of {', '.join(Membership.Role.values)}"]})
    with transaction.atomic():
        _lock_team(membership.team_id)
        membership = Membership.objects.select_for_update().select_related("team", "user").get(pk=membership.pk)
        _require_manager(actor, membership.team)
        if membership.role == role:
            return membership
        if membership.role == Membership.Role.MANAGER and not _other_managers(membership):
            raise ServiceError(f"{membership.user.username} is the last manager of {membership.team.slug}; make someone else manager first")
        before = {"user": membership.user.username, "team": membership.team.slug, "role": membership.role}
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(actor=actor, action=Action.MEMBERSHIP_CHANGE_ROLE, target=membership, team=membership.team,
                     before=before, after={**before, "role": role})
        _resync_team_namespaces(membership.team)
    return membership


def membership_remove(*, actor, membership: Membership) -> None:
    """Remove a member from the team; one reconcile pass deletes their RoleBindings everywhere.

    Certificates already issued stay valid until they expire (Kubernetes
    cannot revoke them) but grant nothing once the bindings are gone.
    Members may also leave on their own.
    """
    with transaction.atomic():
        _lock_team(membership.team_id)
        membership = Membership.objects.select_for_update().select_related("team", "user").get(pk=membership.pk)
        if actor is None or actor.pk != membership.user_id:
            _require_manager(actor, membership.team)
        if membership.role == Membership.Role.MANAGER and not _other_managers(membership):
            raise ServiceError(f"{membership.user.username} is the last manager of {membership.team.slug}; make someone else manager first")
        before = {"user": membership.user.username, "team": membership.team.slug, "role": membership.role}
        team = membership.team
        audit_record(actor=actor, action=Action.MEMBERSHIP_REMOVE, target=membership, team=team, before=before,
                     message="RoleBindings are removed from every namespace of the team; issued certificates stay valid until expiry but grant nothing")
        membership.delete()
        _resync_team_namespaces(team)


def user_deactivate(*, actor, user) -> None:
    """Deactivate a user (platform admins): they can no longer log in and lose every RoleBinding.

    Memberships are removed (and recorded in the audit row), so the next
    reconcile of each of their teams deletes the bindings on every cluster in
    one pass; re-activating someone means adding them to teams again, on purpose.
    """
    if actor is not None and not actor.is_platform_admin:
        raise PermissionDenied("only platform admins can deactivate users")
    if actor is not None and actor.pk == user.pk:
        raise ServiceError("you cannot deactivate yourself")
    with transaction.atomic():
        user = type(user).objects.select_for_update().get(pk=user.pk)
        memberships = list(Membership.objects.select_for_update().select_related("team").filter(user=user))
        before = {"is_active": user.is_active, "memberships": [{"team": m.team.slug, "role": m.role} for m in memberships]}
        user.is_active = False
        user.save(update_fields=["is_active"])
        # Their API tokens must stop working too; the authentication class
        # already refuses inactive users, deleting them makes it permanent.
        user.api_tokens.all().delete()
        for m in memberships:
            m.delete()
        audit_record(actor=actor, action=Action.USER_DEACTIVATE, target=user, before=before,
                     after={"is_active": False, "memberships": []},
                     message="RoleBindings are removed from every namespace of their teams; issued certificates stay valid until expiry but grant nothing")
        for team in {m.team_id: m.team for m in memberships}.values():
            _resync_team_namespaces(team)
