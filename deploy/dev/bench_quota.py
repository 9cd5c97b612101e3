#!/usr/bin/env python
"""Quota benchmark (issue 9, "Figures"), printed for `make bench`.

Quota change request approved -> the new hard values live on the cluster,
through Redis and a real Celery worker, 30 runs (target p95 <= 2 s). Each
run: a developer asks for one more pod on a Ready namespace, the clock
starts, the manager approves, and the clock stops when the kubesim admin
reads the new ``spec.hard.pods`` of the ResourceQuota.

Standalone: ``DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python
deploy/dev/bench_quota.py``; a scratch database ``<db>_bench_quota`` and a
throw-away kubesim. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database, start_worker, wait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TARGET = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    broker = os.environ.get("CELERY_BROKER_URL")
    if not broker:
        sys.exit("bench_quota: set CELERY_BROKER_URL (the benchmark runs a real worker)")
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"),
                                              "bench_quota")
    queue = f"bench-quota-{uuid.uuid4().hex[:8]}"
    os.environ.update(DATABASE_URL=scratch_url, CELERY_QUEUE=queue, DATABASE_CONN_MAX_AGE="0",
                      DJANGO_SETTINGS_MODULE="portal.settings_test", LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-quota-"))
    worker = handle = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        from apps.approvals.services import request_approve
        from apps.clusters import kube
        from apps.clusters.services import cluster_register
        from apps.namespaces.models import Namespace
        from apps.namespaces.services import namespace_request_submit
        from apps.quotas.services import quota_request_submit
        from apps.teams.models import Membership
        from apps.teams.services import team_create
        from kubesim.testing import start
        from portal.celery import app
        from tests.conftest import install_portal_rbac, make_user

        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        handle = start(workdir / "kubesim")
        token = install_portal_rbac(handle)
        cluster = cluster_register(actor=None, name="bench", kubeconfig=handle.token_kubeconfig(
            token, workdir / "portal.kubeconfig", user="portal").read_text())
        worker = start_worker(dict(os.environ), workdir / "worker.log", ROOT)
        team = team_create(actor=None, slug="bench", name="Bench")
        manager, dev = make_user("bench-manager"), make_user("bench-dev")
        Membership.objects.create(team=team, user=manager, role=Membership.Role.MANAGER)
        Membership.objects.create(team=team, user=dev, role=Membership.Role.MEMBER)
        created = request_approve(actor=manager, request=namespace_request_submit(
            actor=dev, team=team, cluster=cluster, name="bench-quota", purpose="bench"))
        wait(lambda: Namespace.objects.filter(pk=created.namespace_id, phase="Ready").exists(), 60, "namespace Ready", 0.05)
        core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(handle.admin_kubeconfig)))

        times = []
        for _ in range(args.runs):
            namespace = Namespace.objects.get(pk=created.namespace_id)
            pods = str(int(namespace.quota["pods"]) + 1)
            change = quota_request_submit(actor=dev, namespace=namespace, quota={**namespace.quota, "pods": pods}, reason="bench")
            t0 = time.monotonic()
            request_approve(actor=manager, request=change, reason="bench")
            wait(lambda: core.read_namespaced_resource_quota("team-quota", "bench-quota").spec.hard.get("pods") == pods,
                 30, "new hard values on the cluster", 0.02)
            times.append(time.monotonic() - t0)
        p95 = percentile(times, 95)
        verdict = "OK" if p95 <= TARGET else "MISSED"
        print("quota benchmarks (kubesim + Redis + real Celery worker)")
        print(f"  quota change approved -> new hard values live on the cluster: n={len(times)} p50={percentile(times, 50):.3f}s "
              f"p95={p95:.3f}s max={max(times):.3f}s (target p95 <= {TARGET:g}s) {verdict}")
        kube.forget_clients()
        return 0 if p95 <= TARGET else 1
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if handle is not None:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
