"""Periodic violations ingest (celery beat, ``VIOLATIONS_INTERVAL_SECONDS``): one task per cluster."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.clusters.models import Cluster
from apps.core.context import acting_via, task_request_id
from apps.violations.ingest import ingest_cluster


@shared_task(acks_late=True, name="apps.violations.tasks.sync_all")
def sync_all() -> int:
    """Fan out: one ingest task per cluster, so a slow cluster does not hold up the others."""
    ids = list(Cluster.objects.values_list("pk", flat=True))
    for pk in ids:
        sync_cluster.apply_async((pk,), queue=settings.CELERY_BACKGROUND_QUEUE)  # fleet work: background
    return len(ids)


@shared_task(bind=True, acks_late=True, name="apps.violations.tasks.sync_cluster")
def sync_cluster(self, cluster_id: int) -> dict:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return {"skipped": "cluster gone"}
    with acting_via("worker", task_request_id(self)):
        result = ingest_cluster(cluster)
    return {"ok": result.ok, "created": result.created, "resolved": result.resolved, "error": result.error}
