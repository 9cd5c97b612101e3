"""``/healthz`` and ``/readyz``: what the kubelet's probes and load balancers ask.

``HealthCheckMiddleware`` answers both first in the middleware chain: before
the host check (kubelet probes use the pod's IP as Host, which
``ALLOWED_HOSTS`` rightly refuses), the HTTPS redirect, sessions and the
database-backed middleware after it.

- ``/healthz``: the process answers. No dependency is asked, so a database
  outage never makes the kubelet restart healthy web pods.
- ``/readyz``: the database answers, the broker answers (when there is one)
  and every migration is applied; 503 naming each failed check otherwise, so
  the pod is taken out of the Service until it can really serve.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

log = logging.getLogger(__name__)

# Once every migration is applied it stays so for this process's lifetime (a
# newer release's migrations come with newer pods): ask the graph once.
_migrations_applied = False


def _check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return "not used (tasks run in-process)"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _check_migrations() -> str:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise RuntimeError(f"{len(pending)} migration(s) not applied, first {pending[0][0].app_label}.{pending[0][0].name}; "
                               "run manage.py migrate (the migration Job)")
        _migrations_applied = True
    return "ok"


CHECKS = {"database": _check_database, "broker": _check_broker, "migrations": _check_migrations}


def readiness() -> tuple[bool, dict[str, str]]:
    """Run every check; (all ok, check -> "ok" or what failed)."""
    results, ok = {}, True
    for name, check in CHECKS.items():
        if name == "migrations" and not ok:
            results[name] = "not checked (database unavailable)"
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports every failure, whatever raised it
            ok = False
            results[name] = f"failed: {type(exc).__name__}: {str(exc).strip()[:300]}"
    return ok, results


class HealthCheckMiddleware:
    """Answers ``/healthz`` and ``/readyz`` (GET/HEAD) before any other middleware; see the module docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD") and request.path in ("/healthz", "/healthz/"):
            return JsonResponse({"status": "ok"})
        if request.method in ("GET", "HEAD") and request.path in ("/readyz", "/readyz/"):
            ok, checks = readiness()
            if not ok:
                log.warning("readyz: not ready: %s", "; ".join(f"{k}: {v}" for k, v in checks.items() if v.startswith("failed")))
            return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
        return self.get_response(request)
