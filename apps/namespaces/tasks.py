"""Celery tasks for namespaces: thin wrappers that take ids and call one service.

All tasks are ``acks_late``: the message is acknowledged only after the task
ran, so a worker killed mid-way leaves it to be redelivered; the services'
claims and server-side apply make running it twice harmless.

Retries: a retryable cluster error re-queues the task with exponential
backoff (capped at ``RECONCILE_MAX_BACKOFF_SECONDS``) and no retry limit, so a
namespace becomes Ready once its cluster is back. In eager mode (the demo
without a broker) nothing is retried inline, which would block the web
request: the row keeps ``next_attempt_at`` and the periodic resync picks it up.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from apps.core.context import acting_via, task_request_id
from apps.namespaces import services
from apps.namespaces.metrics import RECONCILE_FAILURES, RECONCILE_SECONDS
from apps.namespaces.selectors import namespaces_of_team

log = logging.getLogger(__name__)


# Retries further away than this go to the background queue: interactive work never waits behind them.
INTERACTIVE_RETRY_SECONDS = 60


def background_queue() -> str:
    return settings.CELERY_BACKGROUND_QUEUE


def _retry(task, namespace_id: int, result):
    """Schedule the next attempt of a retryable failure, holding the row for it (one chain per row)."""
    if result.outcome == "retry" and not task.request.is_eager:
        services.namespace_hold_for_retry(namespace_id, task.request.id, result.retry_in)
        queue = background_queue() if result.retry_in > INTERACTIVE_RETRY_SECONDS else None
        raise task.retry(countdown=result.retry_in, queue=queue)
    return result.outcome


# max_retries=None: retry for as long as the cluster is down (the backoff is
# capped); Celery's default of 3 would give up and leave it to the resync.
@shared_task(bind=True, acks_late=True, max_retries=None, name="apps.namespaces.tasks.reconcile_namespace")
def reconcile_namespace(self, namespace_id: int, check_drift: bool = False) -> str:
    """Apply the namespace's bundle to its cluster (see ``services.namespace_reconcile``)."""
    started = time.perf_counter()
    with acting_via("worker", task_request_id(self)):
        result = services.namespace_reconcile(namespace_id, token=self.request.id, check_drift=check_drift)
    took = time.perf_counter() - started
    RECONCILE_SECONDS.labels(result.outcome).observe(took)
    # Quiet logs: one line when something changed or failed; a no-op (unchanged, busy, gone) logs nothing.
    if result.outcome in ("applied", "repaired"):
        log.info("namespace %s %s in %.2f s%s", namespace_id, result.outcome, took, f": {result.message}" if result.message else "")
        if result.recovered:
            redrive_cluster_soon(services.namespace_cluster_id(namespace_id))
    elif result.outcome in ("retry", "failed"):
        RECONCILE_FAILURES.labels(result.reason or "unknown").inc()
        log.warning("namespace %s %s (%s)%s: %s", namespace_id, result.outcome, result.reason,
                    f", next attempt in {result.retry_in:.0f} s" if result.retry_in else "", result.message)
    return _retry(self, namespace_id, result)


@shared_task(bind=True, acks_late=True, max_retries=None, name="apps.namespaces.tasks.delete_namespace")
def delete_namespace(self, namespace_id: int) -> str:
    """Delete a Terminating namespace on its cluster and mark it Deleted."""
    with acting_via("worker", task_request_id(self)):
        result = services.namespace_finalize_delete(namespace_id, token=self.request.id)
    return _retry(self, namespace_id, result)


@shared_task(acks_late=True, name="apps.namespaces.tasks.reconcile_team")
def reconcile_team(team_id: int) -> int:
    """Membership changed: re-drive every live namespace of the team (bindings follow)."""
    ids = list(namespaces_of_team(team_id).values_list("pk", flat=True))
    for namespace_id in ids:
        reconcile_namespace.delay(namespace_id)
    return len(ids)


@shared_task(acks_late=True, name="apps.namespaces.tasks.resync")
def resync() -> dict:
    """Periodic (celery beat): re-drive stuck work, check Ready namespaces for drift, finish deletions.

    Everything it enqueues goes to the background queue: an approval made
    meanwhile (interactive queue) never waits behind a fleet-wide pass.
    """
    started = time.perf_counter()
    work = services.namespaces_to_resync()
    queue = background_queue()
    for namespace_id in work["reconcile"]:
        reconcile_namespace.apply_async((namespace_id,), queue=queue)
    # Drift: one list-based pass per cluster (apps.namespaces.drift), not a task per namespace.
    for cluster_id, ids in services.group_by_cluster(work["drift"]).items():
        drift_pass.apply_async((cluster_id, ids), queue=queue)
    for namespace_id in work["delete"]:
        delete_namespace.apply_async((namespace_id,), queue=queue)
    counts = {kind: len(ids) for kind, ids in work.items()}
    if any(counts.values()):
        log.info("resync pass: %d to reconcile, %d to check for drift, %d to delete (enqueued in %.2f s)",
                 counts["reconcile"], counts["drift"], counts["delete"], time.perf_counter() - started)
    return counts


@shared_task(acks_late=True, name="apps.namespaces.tasks.drift_pass")
def drift_pass(cluster_id: int, namespace_ids: list[int] | None = None) -> dict:
    """Compare a cluster's Ready namespaces with one snapshot of it; hand the drifted ones to the reconcile.

    One pass per cluster at a time: a pass still running when the next
    resync comes (a slow cluster) is not doubled.
    """
    from apps.clusters.models import Cluster
    from apps.namespaces.drift import cluster_drift_pass

    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not cache.add(f"portal:drift-pass:{cluster_id}", 1, timeout=DRIFT_PASS_LOCK_SECONDS):
        return {"skipped": True}
    try:
        result = cluster_drift_pass(cluster, namespace_ids)
    finally:
        cache.delete(f"portal:drift-pass:{cluster_id}")
    for namespace_id in result.drifted:
        reconcile_namespace.apply_async((namespace_id,), {"check_drift": True}, queue=background_queue())
    if result.checked or result.error:
        log.info("drift pass on %s: %d checked, %d drifted (repairing), %d list calls, %.2f s%s", cluster.name, result.checked,
                 len(result.drifted), result.list_calls, result.seconds, f"; error: {result.error}" if result.error else "")
    return {"checked": result.checked, "drifted": len(result.drifted), "list_calls": result.list_calls, "error": result.error}


# A pass holds its cluster at most this long (a crashed worker's lock expires).
DRIFT_PASS_LOCK_SECONDS = 600


# One re-drive per cluster per this many seconds, however many rows recover at once.
REDRIVE_THROTTLE_SECONDS = 15


def redrive_cluster_soon(cluster_id: int | None) -> None:
    """Re-drive the rows waiting on ``cluster_id``'s backoff, at most once per REDRIVE_THROTTLE_SECONDS."""
    if cluster_id is not None and cache.add(f"portal:redrive:{cluster_id}", 1, timeout=REDRIVE_THROTTLE_SECONDS):
        redrive_cluster.delay(cluster_id)


@shared_task(acks_late=True, name="apps.namespaces.tasks.redrive_cluster")
def redrive_cluster(cluster_id: int) -> int:
    """A cluster is reachable again: re-drive at once the rows waiting out a backoff for it (see services)."""
    work = services.namespaces_waiting_on(cluster_id)
    for i, namespace_id in enumerate(work["reconcile"]):
        # Rate-limited: REDRIVE_PER_SECOND a second, so a recovered cluster is not flooded.
        reconcile_namespace.apply_async((namespace_id,), countdown=i // services.REDRIVE_PER_SECOND)
    for i, namespace_id in enumerate(work["delete"]):
        delete_namespace.apply_async((namespace_id,), countdown=i // services.REDRIVE_PER_SECOND)
    total = len(work["reconcile"]) + len(work["delete"])
    if total:
        log.info("cluster %s reachable again: re-driving %d namespace(s) now instead of after their backoff", cluster_id, total)
    return total


@shared_task(bind=True, acks_late=True, name="apps.namespaces.tasks.reap_expired")
def reap_expired(self) -> list[int]:
    """Periodic (celery beat, hourly): start deleting expired, unprotected namespaces.

    ``services.namespaces_reap_expired`` flips each to Terminating (audited
    as ``namespace.expire``) and enqueues its cluster delete; a redelivered
    or overlapping run finds them Terminating and does nothing more.
    """
    with acting_via("worker", task_request_id(self)):
        return services.namespaces_reap_expired()
