#!/usr/bin/env python
"""Operations benchmarks (issue 12, "Figures"), printed for `make bench`.

(a) ``/readyz`` (database, broker, migrations): p95 <= 50 ms.
(b) ``/metrics`` with 10,000 namespaces (and 10,000 finished requests behind the
    approval -> Ready histogram): p95 <= 200 ms.

Through Django's test client in one process (the view and its queries, not a
network): ``DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python deploy/dev/bench_ops.py``.
A scratch database ``<db>_bench_ops``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NAMESPACES, CLUSTERS, RUNS = 10_000, 10, 200
TOKEN = "bench-metrics-token"


def timed(client, path: str, runs: int, **headers) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, **headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return samples


def main() -> int:
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), "bench_ops")
    os.environ.update(DATABASE_URL=scratch_url, DATABASE_CONN_MAX_AGE="60", DJANGO_SETTINGS_MODULE="portal.settings_test",
                      LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"), METRICS_TOKEN=TOKEN)
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    recreate_database(admin_url, scratch_url)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        from apps.approvals.models import Request
        from apps.namespaces.models import Namespace
        from apps.teams.models import Team
        from tests.conftest import make_user
        from tests.pages import make_cluster

        team = Team.objects.create(slug="fleet", name="Fleet")
        user = make_user("fleet-owner")
        clusters = [make_cluster(f"c{i}") for i in range(CLUSTERS)]
        phases = ["Ready"] * 8 + ["Provisioning", "Failed"]
        Namespace.objects.bulk_create([Namespace(team=team, cluster=clusters[i % CLUSTERS], name=f"ns-{i}", phase=phases[i % 10], quota={})
                                       for i in range(NAMESPACES)], batch_size=2000)
        now = timezone.now()
        Request.objects.bulk_create([Request(kind="namespace", state="done", team=team, requester=user, cluster=clusters[i % CLUSTERS],
                                             name=f"ns-{i}", decided_at=now - timedelta(seconds=5 + i % 300), finished_at=now)
                                     for i in range(NAMESPACES)], batch_size=2000)
        client = Client()
        timed(client, "/readyz", 10)
        readyz = percentile(timed(client, "/readyz", RUNS), 95)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
        timed(client, "/metrics", 5, **auth)
        metrics = percentile(timed(client, "/metrics", RUNS // 4, **auth), 95)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
    ok_ready, ok_metrics = readyz <= 0.050, metrics <= 0.200
    print(f"ops: /readyz p95 {readyz * 1000:.1f} ms (target <= 50 ms) {'OK' if ok_ready else 'MISSED'}")
    print(f"ops: /metrics p95 with {NAMESPACES:,} namespaces {metrics * 1000:.1f} ms (target <= 200 ms) {'OK' if ok_metrics else 'MISSED'}")
    return 0 if ok_ready and ok_metrics else 1


if __name__ == "__main__":
    sys.exit(main())
