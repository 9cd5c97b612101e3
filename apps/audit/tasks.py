"""Periodic audit sealing: the safety net behind the seal each commit triggers (``AUDIT_SEAL_INTERVAL_SECONDS``)."""

from celery import shared_task

from apps.audit import chain


@shared_task(name="apps.audit.tasks.seal")
def seal() -> int:
    return chain.seal(wait=True)
