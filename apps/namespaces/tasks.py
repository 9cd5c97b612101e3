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

from apps.core.context import acting_via, task_request_id
from apps.namespaces import services
from apps.namespaces.metrics import RECONCILE_FAILURES, RECONCILE_SECONDS
from apps.namespaces.selectors import namespaces_of_team

log = logging.getLogger(__name__)


def _retry(task, result):
    if result.outcome == "retry" and not task.request.is_eager:
        log.info("namespace task %s retrying in %ss: %s", task.request.id, result.retry_in, result.message)
        raise task.retry(countdown=result.retry_in)
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
    log.info("reconcile of namespace %s: %s in %.2f s%s", namespace_id, result.outcome, took,
             f" ({result.message})" if result.message else "")
    if result.outcome in ("retry", "failed"):
        RECONCILE_FAILURES.labels(result.reason or "unknown").inc()
    return _retry(self, result)


@shared_task(bind=True, acks_late=True, max_retries=None, name="apps.namespaces.tasks.delete_namespace")
def delete_namespace(self, namespace_id: int) -> str:
    """Delete a Terminating namespace on its cluster and mark it Deleted."""
    with acting_via("worker", task_request_id(self)):
        result = services.namespace_finalize_delete(namespace_id, token=self.request.id)
    return _retry(self, result)


@shared_task(acks_late=True, name="apps.namespaces.tasks.reconcile_team")
def reconcile_team(team_id: int) -> int:
    """Membership changed: re-drive every live namespace of the team (bindings follow)."""
    ids = list(namespaces_of_team(team_id).values_list("pk", flat=True))
    for namespace_id in ids:
        reconcile_namespace.delay(namespace_id)
    return len(ids)


@shared_task(acks_late=True, name="apps.namespaces.tasks.resync")
def resync() -> dict:
    """Periodic (celery beat): re-drive stuck work, check Ready namespaces for drift, finish deletions."""
    work = services.namespaces_to_resync()
    for namespace_id in work["reconcile"]:
        reconcile_namespace.delay(namespace_id)
    for namespace_id in work["drift"]:
        reconcile_namespace.delay(namespace_id, check_drift=True)
    for namespace_id in work["delete"]:
        delete_namespace.delay(namespace_id)
    counts = {kind: len(ids) for kind, ids in work.items()}
    if any(counts.values()):
        log.info("resync: %s", counts)
    return counts


@shared_task(bind=True, acks_late=True, name="apps.namespaces.tasks.reap_expired")
def reap_expired(self) -> list[int]:
    """Periodic (celery beat, hourly): start deleting expired, unprotected namespaces.

    ``services.namespaces_reap_expired`` flips each to Terminating (audited
    as ``namespace.expire``) and enqueues its cluster delete; a redelivered
    or overlapping run finds them Terminating and does nothing more.
    """
    with acting_via("worker", task_request_id(self)):
        return services.namespaces_reap_expired()
