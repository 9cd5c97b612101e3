"""Periodic usage sync (``USAGE_SYNC_INTERVAL_SECONDS``) and hourly roll-up and retention."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.clusters.models import Cluster
from apps.usage import services


@shared_task(acks_late=True, name="apps.usage.tasks.sync_all")
def sync_all() -> int:
    """One task per cluster, so one slow cluster does not delay the others.

    A cluster whose usage the drift pass recorded moments ago (from its own
    snapshot) is skipped: the fleet is listed once, not twice.
    """
    ids = [pk for pk in Cluster.objects.values_list("pk", flat=True) if not services.observed_recently(pk)]
    for pk in ids:
        sync_cluster.apply_async((pk,), queue=settings.CELERY_BACKGROUND_QUEUE)  # fleet work: background
    return len(ids)


@shared_task(acks_late=True, name="apps.usage.tasks.sync_cluster")
def sync_cluster(cluster_id: int) -> dict:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return {"skipped": "cluster gone"}
    result = services.sync_cluster(cluster)
    return {"ok": result.ok, "quotas": result.quotas, "list_calls": result.list_calls, "error": result.error}


@shared_task(acks_late=True, name="apps.usage.tasks.rollup_and_prune")
def rollup_and_prune() -> dict:
    return services.prune()
