"""Celery tasks for notifications: deliver one event (enqueued after the change commits), and the expiry scan."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.conf import settings

from apps.notifications import services

log = logging.getLogger(__name__)


# acks_late: a worker dying mid-way leaves the task to be redelivered, and the
# delivery is idempotent (see services). A refused mail retries with backoff.
@shared_task(acks_late=True, autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=30, retry_backoff_max=900,
             max_retries=8, name="apps.notifications.tasks.deliver")
def deliver(event: str, object_id: int, extra: dict | None = None) -> int:
    """Tell the people concerned about ``event`` on ``object_id`` (inbox, and email unless they opted out)."""
    return services.notifications_deliver(event, object_id, **(extra or {}))


@shared_task(acks_late=True, name="apps.notifications.tasks.warn_expiring")
def warn_expiring() -> int:
    """Periodic (celery beat): enqueue the namespace and certificate expiry warnings that are due."""
    due = services.expiry_warnings_due()
    for event, object_id, extra in due:
        deliver.apply_async((event, object_id, extra), queue=settings.CELERY_BACKGROUND_QUEUE)
    if due:
        log.info("expiry warnings: %d to deliver", len(due))
    return len(due)
