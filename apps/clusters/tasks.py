"""Celery tasks for clusters."""

from __future__ import annotations

from celery import shared_task

from apps.clusters.services import clusters_check_health


@shared_task(acks_late=True, name="apps.clusters.tasks.check_all_health")
def check_all_health() -> int:
    """Periodic (celery beat): record each cluster's health and server version; returns the healthy count."""
    return clusters_check_health()
