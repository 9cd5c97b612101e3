"""Account services: API tokens, sign-in audit, and unlocking locked-out sign-ins."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, User
from apps.accounts.selectors import lockouts_list
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError

TOKEN_PREFIX = "pp_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _username_target(username: str) -> User:
    """The user a sign-in event is about; an unsaved stand-in when no such user exists.

    Failed sign-ins for unknown names are audited too (that is what guessing
    looks like); the audit row then names the typed username with no id.
    """
    return User.objects.filter(username=username).first() or User(username=username[:150])


@transaction.atomic
def api_token_issue(*, actor: User | None, user: User, name: str = "", expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the token (shown once, never stored).

    ``expires_in_days`` defaults to ``API_TOKEN_DEFAULT_DAYS`` and may not
    exceed ``API_TOKEN_MAX_DAYS``. ``actor`` None is the system (management
    command, fixtures); a user may issue tokens only for themselves.
    """
    if actor is not None and actor.pk != user.pk:
        raise PermissionDenied("you can only issue tokens for yourself")
    if not user.is_active:
        raise ValidationError({"user": [f'user "{user.username}" is inactive']})
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError({"expires_in_days": [f"must be between 1 and {settings.API_TOKEN_MAX_DAYS} days"]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=name.strip(), prefix=token[:10], digest=token_digest(token),
                   expires_at=timezone.now() + timedelta(days=days))
    row.full_clean(exclude=["user"])
    row.save()
    audit_record(actor=actor, action=Action.API_TOKEN_ISSUE, target=user,
                 after={"token_id": row.pk, "token": row.prefix + "…", "name": row.name, "expires_at": row.expires_at.isoformat()})
    return row, token


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    """Revoke a token: it stops authenticating at once. Owners revoke their own, platform admins anyone's."""
    if actor is not None and actor.pk != token.user_id and not actor.is_platform_admin:
        raise PermissionDenied("you can only revoke your own tokens")
    now = timezone.now()
    # Conditional update: two revokes racing write one audit row, not two.
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        raise ServiceError("this token is already revoked")
    token.revoked_at = now
    audit_record(actor=actor, action=Action.API_TOKEN_REVOKE, target=token.user,
                 before={"token_id": token.pk, "token": token.prefix + "…", "name": token.name},
                 after={"revoked_at": now.isoformat()})
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record that a token was used; at most one write a minute per token, not one per request.

    Not audited: it is bookkeeping, not a change anyone made.
    """
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


@transaction.atomic
def sign_in_record(*, user: User, ip_address: str | None) -> None:
    """Audit a successful sign-in."""
    audit_record(actor=user, action=Action.AUTH_LOGIN, target=user, after={"ip_address": ip_address})


@transaction.atomic
def sign_in_failure_record(*, username: str, ip_address: str | None, locked_out: bool = False) -> None:
    """Audit a failed sign-in, or the lockout it triggered (``locked_out``)."""
    target = _username_target(username)
    audit_record(actor=None, action=Action.AUTH_LOCKOUT if locked_out else Action.AUTH_LOGIN_FAILED, target=target,
                 after={"username": username[:150], "ip_address": ip_address})


@transaction.atomic
def login_unlock(*, actor: User | None, username: str) -> int:
    """Lift the sign-in lockout of ``username`` (every address); returns how many lockout records went.

    Platform admins only (``actor`` None is the management command run by an
    operator). Unlocking a name that is not locked is an error, so the audit
    log holds only unlocks that did something.
    """
    if actor is not None and not actor.is_platform_admin:
        raise PermissionDenied("only platform admins can unlock sign-ins")
    if not lockouts_list().filter(username=username).exists():
        raise ServiceError(f'"{username}" is not locked out')
    removed = axes_reset(username=username)
    audit_record(actor=actor, action=Action.AUTH_UNLOCK, target=_username_target(username),
                 after={"username": username, "records_removed": removed})
    return removed
