"""``/metrics`` in the Prometheus text format, and the HTTP metrics middleware.

What it serves:

- HTTP: ``portal_http_requests_total{method,view,status}`` and
  ``portal_http_request_duration_seconds{method,view}`` (``HttpMetricsMiddleware``).
- The portal's state, computed from the database at each scrape (so every web
  and worker process agrees, whatever scrapes whom): namespaces by phase and
  cluster, requests waiting for a decision and the age of the oldest, the
  approval -> Ready duration histogram, kubeconfigs issued, cluster health,
  and the Celery queue depth (read from Redis).
- Worker-side: ``portal_reconcile_duration_seconds{outcome}`` and
  ``portal_reconcile_failures_total{reason}``, recorded by the worker
  processes. With several processes (gunicorn workers, Celery's prefork
  pool) set ``PROMETHEUS_MULTIPROC_DIR`` to a writable directory shared by
  the processes of one pod: each writes its own file and a scrape sums them.
  The worker pod serves its series on ``WORKER_METRICS_PORT`` (see
  ``portal.celery``).

Access: ``Authorization: Bearer <METRICS_TOKEN>``. Without ``METRICS_TOKEN``
the endpoint is off (404): cluster names and counts are nobody's business by
default.
"""

from __future__ import annotations

import hmac
import os
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered", ["method", "view", "status"])
HTTP_SECONDS = Histogram("portal_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "view"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
# Approval -> Ready: from the manager's (or rule's) decision to the namespace applied on its cluster.
APPROVAL_TO_READY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class HttpMetricsMiddleware:
    """Counts and times every request by its URL pattern's name (never by raw path: bounded labels)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match and match.view_name else "unresolved")[:100]
        HTTP_SECONDS.labels(request.method, view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


class DomainCollector:
    """The portal's own series, read from the database (a handful of aggregate queries per scrape)."""

    def collect(self):
        from apps.approvals.models import Request
        from apps.clusters.models import Cluster
        from apps.namespaces.models import Namespace
        from apps.onboarding.models import IssuedCertificate

        namespaces = GaugeMetricFamily("portal_namespaces", "Namespaces the portal manages, by phase and cluster",
                                       labels=["cluster", "phase"])
        for row in (Namespace.objects.exclude(phase=Namespace.Phase.DELETED).order_by()
                    .values("cluster__name", "phase").annotate(n=Count("pk"))):
            namespaces.add_metric([row["cluster__name"], row["phase"]], row["n"])
        yield namespaces

        waiting = GaugeMetricFamily("portal_requests_waiting", "Requests waiting for a decision, by kind", labels=["kind"])
        oldest = GaugeMetricFamily("portal_request_oldest_waiting_seconds",
                                   "Age of the oldest request waiting for a decision (0 when none waits)", labels=["kind"])
        now = timezone.now()
        rows = {r["kind"]: r for r in Request.objects.filter(state=Request.State.SUBMITTED).order_by()
                .values("kind").annotate(n=Count("pk"), first=Min("created_at"))}
        for kind in Request.Kind.values:
            row = rows.get(kind)
            waiting.add_metric([kind], row["n"] if row else 0)
            oldest.add_metric([kind], (now - row["first"]).total_seconds() if row else 0)
        yield waiting
        yield oldest

        yield self._approval_to_ready(Request)

        issued = CounterMetricFamily("portal_kubeconfigs_issued", "Kubeconfig client certificates issued")
        issued.add_metric([], IssuedCertificate.objects.count())
        yield issued

        health = GaugeMetricFamily("portal_cluster_healthy", "1 when the cluster's last health check succeeded",
                                   labels=["cluster", "health"])
        for name, state in Cluster.objects.order_by("name").values_list("name", "health"):
            health.add_metric([name, state], 1 if state == Cluster.Health.HEALTHY else 0)
        yield health

        depth = _queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily("portal_celery_queue_depth", "Tasks waiting in the Celery queue", labels=["queue"])
            queue.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], depth)
            yield queue

    @staticmethod
    def _approval_to_ready(Request):
        """Cumulative buckets over every namespace request that reached Ready (one aggregate query)."""
        took = ExpressionWrapper(F("finished_at") - F("decided_at"), output_field=DurationField())
        done = (Request.objects.filter(kind=Request.Kind.NAMESPACE, state=Request.State.DONE, decided_at__isnull=False,
                                       finished_at__isnull=False).order_by().annotate(took=took))
        aggregates = {f"le_{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=b))) for i, b in enumerate(APPROVAL_TO_READY_BUCKETS)}
        result = done.aggregate(total=Count("pk"), took_sum=Sum("took"), **aggregates)
        seconds = result["took_sum"].total_seconds() if result["took_sum"] else 0.0
        buckets = [(floatToGoString(b), result[f"le_{i}"]) for i, b in enumerate(APPROVAL_TO_READY_BUCKETS)] + [("+Inf", result["total"])]
        family = HistogramMetricFamily("portal_approval_to_ready_seconds", "From a namespace request's approval to the namespace Ready")
        family.add_metric([], buckets, seconds)
        return family


def _queue_depth() -> int | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    except redis.RedisError:
        return None
    finally:
        client.close()


class _ThisProcess:
    """This process's own series (single-process deployments, the demo)."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    return registry


def metrics_view(request):
    """``GET /metrics`` with ``Authorization: Bearer <METRICS_TOKEN>``."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("metrics are off: set METRICS_TOKEN\n", status=404, content_type="text/plain")
    supplied = request.headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("send Authorization: Bearer <METRICS_TOKEN>\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = metrics_registry()
    registry.register(DomainCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
