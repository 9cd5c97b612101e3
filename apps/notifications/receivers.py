"""Signal receivers: turn the workflow's and the namespaces' events into deliveries after commit."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from apps.approvals.signals import request_decided, request_submitted
from apps.namespaces.signals import namespace_failed, namespace_ready


def _deliver_after_commit(event: str, object_id: int, extra: dict | None = None) -> None:
    """Deliver on the background queue: nobody waits on a notification, while an approval's apply
    (enqueued by the same commit) is waited for and must not queue behind it."""
    from django.conf import settings

    from apps.notifications.tasks import deliver

    transaction.on_commit(lambda: deliver.apply_async((event, object_id, extra or {}), queue=settings.CELERY_BACKGROUND_QUEUE))


@receiver(request_submitted)
def _request_submitted(sender, request, **kwargs):
    _deliver_after_commit("request.submitted", request.pk)


@receiver(request_decided)
def _request_decided(sender, request, **kwargs):
    _deliver_after_commit("request.decided", request.pk)


@receiver(namespace_ready)
def _namespace_ready(sender, namespace, at, **kwargs):
    _deliver_after_commit("namespace.ready", namespace.pk)


@receiver(namespace_failed)
def _namespace_failed(sender, namespace, at, error="", **kwargs):
    _deliver_after_commit("namespace.failed", namespace.pk, {"at": at.isoformat(), "error": error})
