#!/usr/bin/env python
"""The fault soak (issue 14, `make soak`): everything real, end to end, under injected faults.

N namespace requests through the REST API (each submitted twice with the same
Idempotency-Key: the replay must return the same request), approved by a
manager over the REST API, reconciled by two real Celery worker processes
onto kubesim while kubesim fails ~30 % of the portal's writes (500, 503, 429
with Retry-After, dropped connections) and adds latency, and while workers
are SIGKILLed and replaced. Then faults stop, and the soak waits for
convergence and checks everything on the cluster with the admin kubeconfig.

Prints: accepted, Ready, duplicates, missing objects, successful writes per
object under faults and fault-free, and convergence time after faults stop.
Exits 1 when anything was lost, duplicated or missing (or convergence never
came). ``SOAK_NAMESPACES`` (default 200) and ``SOAK_KILLS`` (default 2).

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python deploy/dev/soak.py
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchlib import portal_kubesim, recreate_database, scratch_database, start_worker  # noqa: E402

QUOTA = {"requests.cpu": "100m", "limits.cpu": "200m", "requests.memory": "128Mi", "limits.memory": "256Mi"}
FAULT_RATE = 0.30
CONVERGENCE_TIMEOUT = 300


def main() -> int:
    count = int(os.environ.get("SOAK_NAMESPACES", "200"))
    kills = int(os.environ.get("SOAK_KILLS", "2"))
    broker = os.environ.get("CELERY_BROKER_URL") or sys.exit("soak: set CELERY_BROKER_URL (real workers)")
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), "soak")
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    # Short timeouts so a killed worker's work comes back within the soak: requests time out in 2 s
    # (claims last 40 s), unacknowledged messages return after 30 s.
    os.environ.update(DATABASE_URL=scratch_url, CELERY_BROKER_URL=broker, CELERY_QUEUE=queue, DATABASE_CONN_MAX_AGE="0",
                      DJANGO_SETTINGS_MODULE="portal.settings_test", LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
                      CELERY_TASK_LOG_LEVEL="WARNING", KUBE_REQUEST_TIMEOUT_SECONDS="2", CELERY_VISIBILITY_TIMEOUT_SECONDS="30",
                      RECONCILE_MAX_BACKOFF_SECONDS="8", ALLOWED_HOSTS="testserver")
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    workers: list = []
    handle = None
    report: dict = {}
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from kubernetes import client as k8s
        from rest_framework.test import APIClient

        from apps.accounts.services import api_token_issue
        from apps.audit.models import AuditEvent
        from apps.namespaces import manifests, tasks
        from apps.namespaces.models import Namespace
        from apps.teams.models import Membership
        from apps.teams.services import team_create
        from portal.celery import app
        from tests.conftest import make_user, official_client

        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        handle, _ = portal_kubesim(workdir, "soak")
        team = team_create(actor=None, slug="soak", name="Soak")
        dev, boss = make_user("soak-dev"), make_user("soak-manager")
        Membership.objects.create(team=team, user=dev, role=Membership.Role.MEMBER)
        Membership.objects.create(team=team, user=boss, role=Membership.Role.MANAGER)
        dev_api, boss_api = APIClient(), APIClient()
        dev_api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(actor=None, user=dev, name='soak')[1]}")
        boss_api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(actor=None, user=boss, name='soak')[1]}")
        from django.db import connections

        connections.close_all()

        def worker(n: int):
            return start_worker(dict(os.environ), workdir / f"worker-{n}.log", ROOT)

        workers = [worker(0), worker(1)]
        handle.request_log.clear()
        # ~30 % of the portal's writes fail: 500, 503, 429 (Retry-After), dropped connections; plus latency.
        writes = ("create", "update", "patch", "delete")
        handle.faults.error_rate(0.10, status=500, verbs=writes)
        handle.faults.error_rate(0.08, status=503, verbs=writes)
        handle.faults.error_rate(0.07, status=429, verbs=writes, retry_after=1)
        handle.faults.drop_connections(0.05, verbs=writes)
        handle.faults.latency(0.005)

        # The periodic resync, as beat would run it (every 2 s here).
        stop = threading.Event()

        def beat():
            while not stop.wait(2.0):
                tasks.resync.delay()

        threading.Thread(target=beat, daemon=True).start()

        accepted, replays_differ = [], 0
        kill_at = {int(count * (i + 1) / (kills + 1)) for i in range(kills)}
        rng = random.Random(7)
        for i in range(count):
            body = {"cluster": "soak", "team": "soak", "name": f"soak-{i}", "purpose": "soak", "quota": QUOTA}
            key = f"soak-{i}"
            first = dev_api.post("/api/v1/namespace-requests/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
            again = dev_api.post("/api/v1/namespace-requests/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
            if first.status_code != 201:
                print(f"soak: request {i} refused: {first.status_code} {first.content[:200]}")
                continue
            if again.json().get("id") != first.json()["id"]:
                replays_differ += 1
            decided = boss_api.post(f"/api/v1/requests/{first.json()['id']}/approve/", {"reason": "soak"}, format="json")
            if decided.status_code == 200:
                accepted.append(f"soak-{i}")
            if i in kill_at:
                victim = rng.randrange(len(workers))
                os.killpg(workers[victim].pid, signal.SIGKILL)
                workers[victim].wait()
                print(f"soak: SIGKILLed worker {victim} after {i + 1} approvals; starting a replacement")
                workers[victim] = worker(10 + i)
        connections.close_all()
        # Let the faults bite for a while, then stop them and measure convergence.
        time.sleep(5)
        faulted_writes = [e for e in handle.request_log.entries() if e.is_write and e.status < 400]
        handle.faults.clear()
        faults_off = time.monotonic()
        converged = None
        while time.monotonic() - faults_off < CONVERGENCE_TIMEOUT:
            ready = Namespace.objects.filter(name__in=accepted, phase=Namespace.Phase.READY).count()
            connections.close_all()
            if ready == len(accepted):
                converged = time.monotonic() - faults_off
                break
            time.sleep(0.25)
        successful = [e for e in handle.request_log.entries() if e.is_write and e.status < 400]

        # A fault-free batch for the baseline writes per object.
        handle.request_log.clear()
        clean = []
        for i in range(max(5, count // 10)):
            body = {"cluster": "soak", "team": "soak", "name": f"clean-{i}", "quota": QUOTA}
            created = dev_api.post("/api/v1/namespace-requests/", body, format="json")
            boss_api.post(f"/api/v1/requests/{created.json()['id']}/approve/", {}, format="json")
            clean.append(f"clean-{i}")
        deadline = time.monotonic() + 120
        while Namespace.objects.filter(name__in=clean, phase=Namespace.Phase.READY).count() < len(clean) and time.monotonic() < deadline:
            time.sleep(0.25)
        clean_writes = [e for e in handle.request_log.entries() if e.is_write and e.status < 400]
        stop.set()

        # Everything on the cluster, read with the admin kubeconfig.
        rows = list(Namespace.objects.filter(name__in=accepted).select_related("team", "owner", "cluster"))
        members = list(Membership.objects.filter(team=team).select_related("user").order_by("user__username"))
        expected = {row.name: manifests.render_bundle(row, members) for row in rows}
        objects = sum(len(bundle) for bundle in expected.values())
        missing = []
        with official_client(handle.admin_kubeconfig) as api:
            core, net, rbac = k8s.CoreV1Api(api), k8s.NetworkingV1Api(api), k8s.RbacAuthorizationV1Api(api)
            live_ns = {n.metadata.name for n in core.list_namespace(label_selector="app.kubernetes.io/managed-by=platform-portal").items}
            for name, bundle in expected.items():
                present = {("Namespace", name)} if name in live_ns else set()
                present |= {("ResourceQuota", o.metadata.name) for o in core.list_namespaced_resource_quota(name).items}
                present |= {("LimitRange", o.metadata.name) for o in core.list_namespaced_limit_range(name).items}
                present |= {("NetworkPolicy", o.metadata.name) for o in net.list_namespaced_network_policy(name).items}
                present |= {("RoleBinding", o.metadata.name) for o in rbac.list_namespaced_role_binding(name).items}
                missing += [f"{o['kind']}/{name}/{o['metadata']['name']}" for o in bundle
                            if (o["kind"], o["metadata"]["name"]) not in present]
        names = [row.name for row in Namespace.objects.filter(name__startswith="soak-")]
        created_events = AuditEvent.objects.filter(action="namespace.create", target_repr__startswith="soak-").count()
        duplicates = (len(names) - len(set(names))) + replays_differ + max(0, created_events - len(accepted))
        lost = len(accepted) - sum(1 for row in rows if row.phase == Namespace.Phase.READY)
        clean_objects = sum(len(manifests.render_bundle(row, members))
                            for row in Namespace.objects.filter(name__in=clean).select_related("team", "owner"))
        report = {
            "accepted": len(accepted), "ready": len(accepted) - lost, "lost": lost, "duplicates": duplicates,
            "missing": missing, "converged": converged,
            "per_object_faulted": len(successful) / objects if objects else 0.0,
            "per_object_clean": len(clean_writes) / clean_objects if clean_objects else 0.0,
            "faulted_writes": len(faulted_writes),
        }
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        if handle is not None:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)
    r = report
    converged = f"{r['converged']:.1f} s" if r["converged"] is not None else f"never (>{CONVERGENCE_TIMEOUT} s)"
    print(f"soak: {count} namespaces, {kills} worker SIGKILLs, ~{FAULT_RATE:.0%} write faults")
    print(f"soak: accepted {r['accepted']}, Ready {r['ready']}, lost {r['lost']}, duplicates {r['duplicates']}, "
          f"missing objects {len(r['missing'])}{' ' + ', '.join(r['missing'][:5]) if r['missing'] else ''}")
    print(f"soak: successful writes per object under faults {r['per_object_faulted']:.2f} (target <= 1.2), "
          f"fault-free {r['per_object_clean']:.2f}; convergence after faults stopped {converged} (target <= 30 s)")
    ok = r["lost"] == 0 and r["duplicates"] == 0 and not r["missing"] and r["converged"] is not None and r["accepted"] == count
    print(f"soak: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
