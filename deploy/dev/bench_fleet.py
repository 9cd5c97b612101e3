#!/usr/bin/env python
"""Fleet benchmarks (issue 14, "Figures"), printed for `make bench`.

(a) A no-op drift resync of 10,000 namespaces over 5 kubesim clusters (every
    bundle already on its cluster): wall time (target <= 60 s), writes (target
    0) and list calls (at most kinds x clusters x pages).
(b) Approval -> Ready of a namespace request, idle (target p95 <= 0.2 s) and
    while that resync runs on a real worker (target p95 <= 2 s).

``DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python deploy/dev/bench_fleet.py [--namespaces N]``;
a scratch database ``<db>_bench_fleet``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchlib import percentile, portal_kubesim, recreate_database, scratch_database, start_worker, wait  # noqa: E402

CLUSTERS = 5
QUOTA = {"requests.cpu": "100m", "limits.cpu": "200m", "requests.memory": "128Mi", "limits.memory": "256Mi"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=int(os.environ.get("FLEET_NAMESPACES", "10000")))
    parser.add_argument("--approvals", type=int, default=10)
    args = parser.parse_args()
    broker = os.environ.get("CELERY_BROKER_URL") or sys.exit("bench_fleet: set CELERY_BROKER_URL")
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), "bench_fleet")
    queue = f"bench-fleet-{uuid.uuid4().hex[:8]}"
    os.environ.update(DATABASE_URL=scratch_url, CELERY_BROKER_URL=broker, CELERY_QUEUE=queue, DATABASE_CONN_MAX_AGE="0",
                      DJANGO_SETTINGS_MODULE="portal.settings_test", LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
                      CELERY_TASK_LOG_LEVEL="WARNING")
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    handles, worker, interactive = [], None, None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.approvals.services import request_approve
        from apps.namespaces import drift, manifests
        from apps.namespaces.models import Namespace
        from apps.namespaces.services import namespace_request_submit
        from apps.teams.models import Membership
        from apps.teams.services import team_create
        from kubesim import resources
        from portal.celery import app
        from tests.conftest import make_user

        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        team = team_create(actor=None, slug="fleet", name="Fleet")
        owner, manager = make_user("fleet-dev"), make_user("fleet-manager")
        Membership.objects.create(team=team, user=owner, role=Membership.Role.MEMBER)
        Membership.objects.create(team=team, user=manager, role=Membership.Role.MANAGER)
        members = list(Membership.objects.filter(team=team).select_related("user").order_by("user__username"))
        clusters = []
        per_cluster = math.ceil(args.namespaces / CLUSTERS)
        started = time.perf_counter()
        for c in range(CLUSTERS):
            handle, cluster = portal_kubesim(workdir, f"fleet-{c}")
            handles.append(handle)
            clusters.append(cluster)
            rows = Namespace.objects.bulk_create([
                Namespace(team=team, cluster=cluster, name=f"fleet-{c}-{i}", owner=owner, quota=dict(QUOTA), phase="Ready")
                for i in range(per_cluster)], batch_size=2000)
            # The bundles as the portal applied them, straight into the simulated cluster's store.
            for row in Namespace.objects.filter(cluster=cluster).select_related("team", "owner"):
                for obj in manifests.render_bundle(row, members):
                    rt = resources.get(obj["apiVersion"], obj["kind"])
                    handle.store.create(rt, obj)
            assert len(rows) == per_cluster
        print(f"fleet: {CLUSTERS * per_cluster:,} namespaces on {CLUSTERS} kubesim clusters set up in {time.perf_counter() - started:.0f} s")

        # (a) the no-op resync, cluster by cluster as the worker runs it.
        for handle in handles:
            handle.request_log.clear()
        started = time.perf_counter()
        results = [drift.cluster_drift_pass(cluster) for cluster in clusters]
        resync = time.perf_counter() - started
        writes = sum(len(h.request_log.writes()) for h in handles)
        calls = sum(r.list_calls for r in results)
        drifted = sum(len(r.drifted) for r in results)
        objects_per_kind = {"Namespace": 1, "ResourceQuota": 1, "LimitRange": 1, "NetworkPolicy": 2, "RoleBinding": len(members)}
        bound = sum(math.ceil(per_cluster * n / drift.PAGE_SIZE) for n in objects_per_kind.values()) * CLUSTERS
        print(f"fleet: no-op drift resync of {sum(r.checked for r in results):,} namespaces: {resync:.1f} s (target <= 60 s), "
              f"{writes} writes (target 0), {drifted} drifted, {calls} list calls (kinds x clusters x pages = {bound})")

        # (b) approvals, idle and during a resync, as deployed: a worker for both queues (interactive
        # first) and one for the interactive queue only, so a running fleet pass never holds an approval.
        worker = start_worker(dict(os.environ), workdir / "worker.log", ROOT)
        interactive = start_worker(dict(os.environ), workdir / "worker-interactive.log", ROOT, interactive_only=True)

        decisions = []

        def approve_once(name: str) -> float:
            request = namespace_request_submit(actor=owner, team=team, cluster=clusters[0], name=name, quota=dict(QUOTA))
            began = time.perf_counter()
            namespace = request_approve(actor=manager, request=request).namespace
            decisions.append(time.perf_counter() - began)  # the decision itself: preflight dry run + commit
            wait(lambda: Namespace.objects.filter(pk=namespace.pk, phase="Ready").exists(), 60, f"{name} Ready", 0.01)
            return time.perf_counter() - began

        for i in range(4):  # warm-up (both workers' first tasks: imports, connections) outside the figures
            approve_once(f"warm-{i}")
        decisions.clear()
        idle = [approve_once(f"idle-{i}") for i in range(args.approvals)]
        from apps.namespaces.tasks import drift_pass

        for cluster in clusters:
            drift_pass.apply_async((cluster.pk,), queue=f"{queue}-background")
        busy = [approve_once(f"busy-{i}") for i in range(args.approvals)]
    finally:
        for proc in (worker, interactive):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        for handle in handles:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)
    p_idle, p_busy = percentile(idle, 95), percentile(busy, 95)
    print(f"fleet: approval -> Ready p95 idle {p_idle:.2f} s (target <= 0.2 s), during the resync {p_busy:.2f} s (target <= 2 s); "
          f"of which the decision (preflight dry run, commit) p50 {percentile(decisions, 50):.2f} s")
    ok = resync <= 60 and writes == 0 and calls <= bound and p_idle <= 0.2 and p_busy <= 2
    print(f"fleet: {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
