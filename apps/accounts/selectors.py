"""Who sees which API tokens, and which sign-ins are locked out."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from apps.accounts.models import ApiToken, User


def tokens_visible_to(user: User, *, owner: str | None = None) -> QuerySet[ApiToken]:
    """Live (not revoked) tokens: the user's own; every user's for platform admins.

    ``owner`` (a username) narrows the list; for anyone but an admin it can
    only narrow their own tokens, so naming someone else gives an empty list.
    """
    qs = ApiToken.objects.filter(revoked_at__isnull=True).select_related("user")
    if not user.is_platform_admin:
        qs = qs.filter(user=user)
    if owner:
        qs = qs.filter(user__username=owner)
    return qs


def token_get_for_user(user: User, pk) -> ApiToken:
    """One live token the user may manage, or 404 (someone else's token looks like no token)."""
    token = tokens_visible_to(user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token


def lockouts_list() -> QuerySet[AccessAttempt]:
    """Sign-in lockouts in force: attempts at or over the failure limit."""
    qs = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if settings.AXES_COOLOFF_TIME:
        # Older records have cooled off: axes lets those sign-ins through again.
        qs = qs.filter(attempt_time__gt=timezone.now() - settings.AXES_COOLOFF_TIME)
    return qs.order_by("-attempt_time")
