#!/usr/bin/env python
"""Usage benchmarks (issue 9, "Figures"), printed for `make bench`.

(a) usage sync of 10,000 namespaces over 5 kubesim clusters (2,000 portal-managed
    ResourceQuotas each): wall time (target <= 30 s) and list calls per cluster
    (target: exactly one, more only for ``continue`` pages).
(b) a team's usage page and ``GET /api/v1/teams/{slug}/usage/``: p95 with 5,000
    namespaces / p95 with 50 (target <= 1.5) and the SQL query counts (equal).
(c) history storage: rows kept per namespace for 30 days of 5-minute syncs
    after roll-up and pruning (bounded by the retention settings).

Standalone: ``DATABASE_URL=postgres://... python deploy/dev/bench_usage.py``; a
scratch database ``<db>_bench_usage`` and throw-away kubesims. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CLUSTERS, PER_CLUSTER = 5, 2000
QUOTA = {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "50"}


def main() -> int:
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"),
                                              "bench_usage")
    os.environ.update(DATABASE_URL=scratch_url, DATABASE_CONN_MAX_AGE="0", DJANGO_SETTINGS_MODULE="portal.settings_test",
                      LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    os.environ.pop("CELERY_BROKER_URL", None)  # no worker here: nothing is enqueued
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")  # the pages are measured with the test client
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-usage-"))
    handles = []
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        from apps.accounts.services import api_token_issue
        from apps.clusters import kube
        from apps.clusters.services import cluster_register
        from apps.namespaces.manifests import MANAGED_BY, MANAGED_BY_LABEL, QUOTA_NAME
        from apps.namespaces.models import Namespace
        from apps.teams.models import Membership, Team
        from apps.usage.models import UsageHourly, UsageSample
        from apps.usage.services import prune, sync_cluster
        from kubesim import resources
        from kubesim.testing import start
        from tests.conftest import install_portal_rbac, make_user

        ns_rt, rq_rt = resources.lookup("", "v1", "namespaces"), resources.lookup("", "v1", "resourcequotas")
        big, small = Team.objects.create(slug="big", name="Big"), Team.objects.create(slug="small", name="Small")
        others = Team.objects.bulk_create([Team(slug=f"t{i}", name=f"T{i}") for i in range(99)])
        owners = [big] * 5000 + [small] * 50 + [t for t in others for _ in range(50)]
        clusters, rows = [], []
        for c in range(CLUSTERS):
            handle = start(workdir / f"kubesim-{c}")
            handles.append(handle)
            token = install_portal_rbac(handle)
            cluster = cluster_register(actor=None, name=f"c{c}", kubeconfig=handle.token_kubeconfig(
                token, workdir / f"c{c}.kubeconfig", user="portal").read_text())
            clusters.append(cluster)
            for i in range(PER_CLUSTER):
                name, team = f"ns-{c}-{i}", owners[c * PER_CLUSTER + i]
                labels = {MANAGED_BY_LABEL: MANAGED_BY}
                handle.store.create(ns_rt, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
                handle.store.create(rq_rt, {"apiVersion": "v1", "kind": "ResourceQuota",
                                            "metadata": {"name": QUOTA_NAME, "namespace": name, "labels": labels},
                                            "spec": {"hard": QUOTA}, "status": {"hard": QUOTA, "used": {"requests.cpu": "500m", "pods": "3"}}})
                rows.append(Namespace(team=team, cluster=cluster, name=name, phase="Ready", quota=dict(QUOTA)))
        Namespace.objects.bulk_create(rows, batch_size=2000)
        print("usage benchmarks (5 kubesim clusters, PostgreSQL)")

        # (a) sync
        t0 = time.monotonic()
        results = [sync_cluster(cluster) for cluster in clusters]
        sync_s = time.monotonic() - t0
        calls = [r.list_calls for r in results]
        pages = -(-PER_CLUSTER // 500)
        ok_a = sync_s <= 30 and all(r.ok and r.quotas == PER_CLUSTER for r in results) and all(n == pages for n in calls)
        print(f"  (a) usage sync of {sum(r.quotas for r in results)} namespaces over {CLUSTERS} clusters: {sync_s:.2f}s "
              f"(target <= 30s), list calls per cluster {calls} ({pages} page(s) of 500 each; one list per cluster) "
              f"{'OK' if ok_a else 'MISSED'}")
        t0 = time.monotonic()
        for cluster in clusters:
            sync_cluster(cluster)
        print(f"      a second sync: {time.monotonic() - t0:.2f}s")

        # (b) team usage page and API: 5,000 namespaces vs 50
        viewer = make_user("bench-viewer")
        Membership.objects.bulk_create([Membership(team=big, user=viewer, role="viewer"), Membership(team=small, user=viewer, role="viewer")])
        page, api = Client(), Client()
        page.force_login(viewer)
        _, token = api_token_issue(actor=None, user=viewer)
        auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
        api.get("/api/v1/", **auth)

        def measure(client, url, headers) -> tuple[float, int]:
            client.get(url, **headers)  # warm
            times = []
            for _ in range(20):
                t = time.monotonic()
                assert client.get(url, **headers).status_code == 200
                times.append(time.monotonic() - t)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, **headers)
            if os.environ.get("BENCH_DEBUG"):
                for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:4]:
                    print("     ", q["time"], q["sql"][:300])
            return percentile(times, 95), len(ctx.captured_queries)

        ok_b = True
        for label, client, template, headers in (("team page", page, "/teams/{}/", {}), ("team usage API", api, "/api/v1/teams/{}/usage/", auth)):
            p_small, q_small = measure(client, template.format("small"), headers)
            p_big, q_big = measure(client, template.format("big"), headers)
            ratio = p_big / p_small
            good = ratio <= 1.5 and q_small == q_big
            ok_b = ok_b and good
            print(f"  (b) {label}: p95 {p_small * 1000:.1f} ms with 50 namespaces, {p_big * 1000:.1f} ms with 5,000: ratio {ratio:.2f} "
                  f"(target <= 1.5); queries {q_small} vs {q_big} {'OK' if good else 'MISSED'}")

        # (c) history rows per namespace for 30 days of 5-minute syncs
        one = Namespace.objects.get(name="ns-0-0")
        UsageSample.objects.filter(namespace=one).delete()
        start_at = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=30)
        UsageSample.objects.bulk_create([UsageSample(namespace=one, taken_at=start_at + timedelta(minutes=5 * i),
                                                     used={"requests.cpu": 0.5}, hard={"requests.cpu": 2.0})
                                         for i in range(30 * 24 * 12)])
        prune(start_at + timedelta(days=30))
        kept = UsageSample.objects.filter(namespace=one).count() + UsageHourly.objects.filter(namespace=one).count()
        print(f"  (c) history rows kept per namespace for 30 days of 5-minute syncs: {kept} (of {30 * 24 * 12} samples taken; "
              f"raw {os.environ.get('USAGE_RAW_RETENTION_HOURS', 48)} h + hourly {os.environ.get('USAGE_HOURLY_RETENTION_DAYS', 35)} days)")
        kube.forget_clients()
        return 0 if ok_a and ok_b else 1
    finally:
        for handle in handles:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
