"""Reading notifications: a person only ever sees their own."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from apps.notifications.models import EmailOptOut, Notification


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def notification_get_for_user(user, pk) -> Notification:
    """The user's notification, or 404 (someone else's is not theirs to see or mark)."""
    notification = notifications_of(user).filter(pk=pk).first()
    if notification is None:
        raise Http404("No such notification")
    return notification


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def email_opt_outs(user) -> set[str]:
    return set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
