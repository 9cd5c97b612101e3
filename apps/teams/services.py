"""Team and membership services. Membership changes re-drive the team's namespaces."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.teams.models import Membership, Team
from apps.teams.selectors import can_manage_team

# --- Team administration ----------------------------------------------------------

# What a team manager may change about their own team; everything else is a platform admin's.
MANAGER_EDITABLE = ("description", "contact")
TEAM_FIELDS = ("slug", "name", "description", "contact", "budget")


def _require_platform_admin(actor, what: str) -> None:
    # ``actor=None`` is the system (seed command): trusted callers only.
    if actor is not None and not actor.is_platform_admin:
        raise PermissionDenied(f"only platform admins can {what}")


# Paths under /teams/ that a team's page would shadow.
RESERVED_TEAM_SLUGS = frozenset({"new", "users"})
# A DNS label, like a namespace name: teams' slugs start the names of their namespaces.
SLUG_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_new_slug(slug: str, team_pk: int | None = None) -> None:
    """A slug a new (or renamed) team may take: a free DNS label that no portal page uses."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 63:
        raise ValidationError({"slug": ["must be lowercase letters, digits and '-', start and end with a letter or "
                                         "digit, at most 63 characters (e.g. payments)"]})
    if slug in RESERVED_TEAM_SLUGS:
        raise ValidationError({"slug": [f'"{slug}" is reserved by the portal; choose another slug']})
    if Team.objects.filter(slug=slug).exclude(pk=team_pk).exists():
        raise ValidationError({"slug": [f"a team with slug {slug} already exists"]})


def _team_state(team: Team) -> dict:
    return {field: getattr(team, field) for field in TEAM_FIELDS}


def team_create(*, actor, slug: str, name: str, description: str = "", contact: str = "", budget: dict | None = None,
                manager=None) -> Team:
    """Create a team (platform admins; the seed command), optionally with its first manager.

    The manager is added through ``membership_add`` so it is audited like
    any other membership; the team has no namespaces yet, so nothing reconciles.
    """
    _require_platform_admin(actor, "create teams")
    if manager is not None and not manager.is_active:
        raise ValidationError({"manager": [f"{manager.get_username()} is deactivated"]})
    with transaction.atomic():
        _check_new_slug(slug)
        team = Team(slug=slug, name=name, description=description, contact=contact, budget=budget or {})
        team.full_clean()
        try:
            with transaction.atomic():  # savepoint: a concurrent create of the same slug is a field error, not a 500
                team.save()
        except IntegrityError:
            raise ValidationError({"slug": [f"a team with slug {slug} already exists"]}) from None
        audit_record(actor=actor, action=Action.TEAM_CREATE, target=team, team=team, after=_team_state(team))
        if manager is not None:
            membership_add(actor=actor, team=team, user=manager, role=Membership.Role.MANAGER)
    return team


def team_update(*, actor, team: Team, **changes) -> Team:
    """Change a team's slug, name, description, contact or budget; audited field by field.

    Platform admins change anything; the team's managers only the
    description and the contact. The slug is written on every cluster
    object of the team (label ``portal.platform.io/team``), so it is fixed
    once the team has namespaces. A change of contact re-applies the
    namespaces (it is an annotation on each). Nothing changed, nothing written.
    """
    unknown = set(changes) - set(TEAM_FIELDS)
    if unknown:
        raise ValidationError({field: ["unknown team field"] for field in sorted(unknown)})
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        before = _team_state(team)
        changed = {field: value for field, value in changes.items() if before[field] != value}
        if not changed:
            return team
        if actor is not None and not actor.is_platform_admin:
            if not can_manage_team(actor, team):
                raise PermissionDenied(f"only managers of team {team.slug} or a platform admin can edit it")
            admin_only = sorted(set(changed) - set(MANAGER_EDITABLE))
            if admin_only:
                raise PermissionDenied(f"only platform admins can change a team's {', '.join(admin_only)}; "
                                       f"managers may change {' and '.join(MANAGER_EDITABLE)}")
        if "slug" in changed:
            from apps.namespaces.models import Namespace  # namespaces depend on teams; this one question goes back

            count = Namespace.objects.filter(team=team).count()
            if count:
                raise ValidationError({"slug": [
                    f"the slug cannot change: it labels every cluster object of the team's {count} "
                    f"namespace{'s' if count != 1 else ''}; change the display name instead"]})
            _check_new_slug(changed["slug"], team.pk)
        for field, value in changed.items():
            setattr(team, field, value)
        team.full_clean()
        team.save(update_fields=list(changed))
        audit_record(actor=actor, action=Action.TEAM_UPDATE, target=team, team=team,
                     before={field: before[field] for field in changed}, after=changed)
        if "contact" in changed:
            _resync_team_namespaces(team)
    return team


def team_archive(*, actor, team: Team) -> Team:
    """Archive a team: it keeps its history but takes no new requests (platform admins).

    Refused while the team has live namespaces or undecided requests: those
    are someone's work, and deciding what happens to them is not a side
    effect of tidying the team list.
    """
    from apps.approvals.models import Request
    from apps.namespaces.selectors import namespaces_of_team

    _require_platform_admin(actor, "archive teams")
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        if team.archived:
            raise ServiceError(f"team {team.slug} is already archived")
        live = list(namespaces_of_team(team).order_by("name").values_list("name", flat=True))
        if live:
            raise ServiceError(f"team {team.slug} still has {len(live)} live namespace{'s' if len(live) != 1 else ''} "
                               f"({', '.join(live[:10])}{', …' if len(live) > 10 else ''}); delete "
                               f"{'them' if len(live) != 1 else 'it'} before archiving the team")
        open_requests = Request.objects.filter(team=team, state__in=[Request.State.SUBMITTED, Request.State.APPROVED,
                                                                     Request.State.APPLYING]).count()
        if open_requests:
            raise ServiceError(f"team {team.slug} has {open_requests} open request{'s' if open_requests != 1 else ''}; "
                               "decide or cancel them before archiving the team")
        team.archived_at = timezone.now()
        team.save(update_fields=["archived_at"])
        audit_record(actor=actor, action=Action.TEAM_ARCHIVE, target=team, team=team,
                     before={"archived": False}, after={"archived": True})
    return team


def team_restore(*, actor, team: Team) -> Team:
    """Take a team out of the archive (platform admins): it takes requests again."""
    _require_platform_admin(actor, "restore archived teams")
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        if not team.archived:
            raise ServiceError(f"team {team.slug} is not archived")
        team.archived_at = None
        team.save(update_fields=["archived_at"])
        audit_record(actor=actor, action=Action.TEAM_RESTORE, target=team, team=team,
                     before={"archived": True}, after={"archived": False})
    return team


def _resync_team_namespaces(team: Team) -> None:
    """After commit, reconcile every live namespace of the team (bindings follow membership)."""
    from apps.namespaces.tasks import reconcile_team  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_team.delay(team.pk))


def membership_add(*, actor, team: Team, user, role: str = Membership.Role.MEMBER,
                   change_existing: bool = True, source: str = Membership.Source.PORTAL) -> Membership:
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
        membership = Membership.objects.create(team=team, user=user, role=role, source=source)
        audit_record(actor=actor, action=Action.MEMBERSHIP_ADD, target=membership, team=team,
                     after={"user": user.username, "team": team.slug, "role": role,
                            **({"source": source} if source != Membership.Source.PORTAL else {})})
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
