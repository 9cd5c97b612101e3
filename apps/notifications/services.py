"""Notification services: deliver an event (inbox rows, then email), read marks, email opt-outs, expiry scans.

Delivery is idempotent: one ``Notification`` per person and event key (a
unique constraint), and each email is claimed (``emailed_at`` set where it
was empty) before it is sent, so a redelivered task or two overlapping runs
add no row and send no mail twice. A mail the backend refuses is
un-claimed and the error raised, so the task's retry sends it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.namespaces.models import Namespace
from apps.notifications.events import Message, messages_for
from apps.notifications.models import EmailOptOut, Kind, Notification
from apps.onboarding.models import IssuedCertificate

log = logging.getLogger(__name__)

# Warnings before a namespace expires, largest first: each is sent once per expiry time.
EXPIRY_WARNING_HOURS = (72, 24)
# A kubeconfig certificate warns when this share of its lifetime is left (at least an hour).
CERTIFICATE_WARNING_SHARE = 0.2


def notifications_deliver(event: str, object_id: int, **extra) -> int:
    """Put one event's messages in the recipients' inboxes and email those who want it; returns mails sent."""
    messages = messages_for(event, object_id, **extra)
    if not messages:
        return 0
    for message in messages:
        Notification.objects.get_or_create(user_id=message.user_id, key=message.key, defaults={
            "kind": message.kind, "title": message.title[:200], "body": message.body, "url": message.url})
    return _email(messages)


def _email(messages: list[Message]) -> int:
    by_user = {m.user_id: m for m in messages}
    opted_out = set(EmailOptOut.objects.filter(user_id__in=by_user, kind__in={m.kind for m in messages})
                    .values_list("user_id", "kind"))
    pending = (Notification.objects.filter(user_id__in=by_user, key__in={m.key for m in messages}, emailed_at__isnull=True)
               .select_related("user"))
    sent = 0
    for row in pending:
        if (row.user_id, row.kind) in opted_out or not row.user.email or not row.user.is_active:
            continue
        # Claim first: only the caller that sets emailed_at sends.
        if not Notification.objects.filter(pk=row.pk, emailed_at__isnull=True).update(emailed_at=timezone.now()):
            continue
        link = f"{settings.PORTAL_URL.rstrip('/')}{row.url}" if row.url else ""
        body = f"{row.body}\n\n{link}\n\n--\nTurn these emails off: {settings.PORTAL_URL.rstrip('/')}/notifications/settings/\n"
        try:
            send_mail(f"[Platform portal] {row.title}", body, None, [row.user.email])
        except Exception:
            Notification.objects.filter(pk=row.pk).update(emailed_at=None)
            raise
        sent += 1
    if sent:
        log.info("notifications: %d email(s) sent for %s", sent, messages[0].key)
    return sent


def notifications_mark_read(user, ids: list[int] | None = None) -> int:
    """Mark ``user``'s notifications read (``ids`` None: all of them); returns how many changed."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


def email_opt_outs_set(user, kinds_off: set[str]) -> None:
    """Turn email off for exactly ``kinds_off`` (the inbox keeps every kind)."""
    unknown = set(kinds_off) - set(Kind.values)
    if unknown:
        raise ValueError(f"unknown notification kinds: {sorted(unknown)}")
    EmailOptOut.objects.filter(user=user).exclude(kind__in=kinds_off).delete()
    EmailOptOut.objects.bulk_create([EmailOptOut(user=user, kind=kind) for kind in sorted(kinds_off)], ignore_conflicts=True)


def _not_yet_told(events: list[tuple[str, int, dict, str]]) -> list[tuple[str, int, dict]]:
    """Drop the events whose key already has a notification (one query)."""
    told = set(Notification.objects.filter(key__in=[key for *_, key in events]).values_list("key", flat=True).distinct())
    return [(event, object_id, extra) for event, object_id, extra, key in events if key not in told]


def expiry_warnings_due(now=None) -> list[tuple[str, int, dict]]:
    """The namespace and certificate expiry warnings to deliver now, as ``(event, id, extra)``.

    A namespace within 72 h of its expiry gets the 72 h warning, within 24 h
    the 24 h one (only that one if it was never warned before). Keys carry the
    expiry time, so an extended namespace is warned again before its new
    expiry. A certificate warns when a fifth of its lifetime is left, unless
    its holder already has a newer one for the same cluster and namespace.
    """
    now = now or timezone.now()
    events = []
    namespaces = (Namespace.objects.exclude(phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED])
                  .filter(protected=False, expires_at__gt=now, expires_at__lte=now + timedelta(hours=EXPIRY_WARNING_HOURS[0]))
                  .values_list("pk", "expires_at"))
    for pk, expires_at in namespaces:
        hours = min(h for h in EXPIRY_WARNING_HOURS if expires_at <= now + timedelta(hours=h))
        at = expires_at.isoformat()
        events.append(("namespace.expiring", pk, {"expires_at": at, "hours": hours}, f"namespace:{pk}:expiring:{at}:{hours}h"))
    newer = IssuedCertificate.objects.filter(user_id=OuterRef("user_id"), cluster_id=OuterRef("cluster_id"),
                                             namespace_name=OuterRef("namespace_name"), created_at__gt=OuterRef("created_at"))
    horizon = now + timedelta(seconds=settings.KUBECONFIG_CERT_MAX_SECONDS * CERTIFICATE_WARNING_SHARE)
    certificates = (IssuedCertificate.objects.filter(not_after__gt=now, not_after__lte=max(horizon, now + timedelta(hours=1)))
                    .exclude(Exists(newer)).values_list("pk", "not_before", "not_after"))
    for pk, not_before, not_after in certificates:
        window = max((not_after - not_before) * CERTIFICATE_WARNING_SHARE, timedelta(hours=1))
        if not_after - now <= window:
            events.append(("certificate.expiring", pk, {}, f"certificate:{pk}:expiring"))
    return _not_yet_told(events) if events else []
