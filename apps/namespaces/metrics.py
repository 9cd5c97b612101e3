"""The worker's reconcile metrics (Prometheus; summed over processes in multiprocess mode, see portal.metrics)."""

from prometheus_client import Counter, Histogram

RECONCILE_SECONDS = Histogram(
    "portal_reconcile_duration_seconds", "Time one namespace reconcile took, by outcome", ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
# reason: the HTTP status class the cluster answered (http_403, http_503, ...) or "unreachable".
RECONCILE_FAILURES = Counter("portal_reconcile_failures_total", "Reconciles that failed or will be retried, by reason", ["reason"])
