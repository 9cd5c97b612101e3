"""End to end: REST request -> approval -> a REAL Celery worker process -> kubesim.

The worker is another process: it reads the committed rows of the test
database and talks to kubesim over HTTPS as the portal's least-privilege
ServiceAccount. Everything on the cluster is checked with the official
client as the kubesim admin, and kubesim's request log counts the writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from apps.approvals.models import Request
from apps.namespaces import tasks
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import bundle_for_namespace
from apps.namespaces.services import _same
from apps.teams.models import Membership
from portal.celery import app as celery_app
from tests.conftest import ROOT, official_client, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

Phase = Namespace.Phase
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "20"}

READERS = {
    "Namespace": lambda api, name, ns: k8s.CoreV1Api(api).read_namespace(name),
    "ResourceQuota": lambda api, name, ns: k8s.CoreV1Api(api).read_namespaced_resource_quota(name, ns),
    "LimitRange": lambda api, name, ns: k8s.CoreV1Api(api).read_namespaced_limit_range(name, ns),
    "NetworkPolicy": lambda api, name, ns: k8s.NetworkingV1Api(api).read_namespaced_network_policy(name, ns),
    "RoleBinding": lambda api, name, ns: k8s.RbacAuthorizationV1Api(api).read_namespaced_role_binding(name, ns),
}


def request_namespace(api_client_for, member, manager, name: str) -> Namespace:
    """alice asks over the REST API, bob approves over the REST API; returns the Namespace row."""
    created = api_client_for(member).post("/api/v1/namespace-requests/", {
        "cluster": "sim", "team": "payments", "name": name, "purpose": "integration", "quota": QUOTA,
    }, format="json")
    assert created.status_code == 201, created.content
    approved = api_client_for(manager).post(f"/api/v1/namespace-requests/{created.json()['id']}/approve/", {"reason": "ok"}, format="json")
    assert approved.status_code == 200, approved.content
    return Namespace.objects.get(pk=approved.json()["namespace"])


def phase_of(namespace_id) -> str:
    return Namespace.objects.filter(pk=namespace_id).values_list("phase", flat=True).first()


def task_finished(log_path, task_id: str) -> str | None:
    """The task's outcome as the worker logged it ("succeeded ...: 'unchanged'"), once it has finished."""
    for line in log_path.read_text().splitlines():
        if task_id in line and " succeeded in " in line:
            return line
    return None


def assert_bundle_on_cluster(api, namespace: Namespace) -> None:
    """Every object of the bundle exists on the cluster with every field the portal set."""
    for obj in bundle_for_namespace(namespace):
        meta = obj["metadata"]
        live = api.sanitize_for_serialization(READERS[obj["kind"]](api, meta["name"], meta.get("namespace")))
        desired = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        assert _same(desired, live), f"{obj['kind']}/{meta['name']} differs on the cluster:\n{desired}\n{live}"


def test_request_approve_worker_cluster_noop_errors_offboarding_delete(
        transactional_db, kubesim_cluster, celery_worker, api_client_for, member, manager, viewer):
    handle, cluster = kubesim_cluster
    admin = official_client(handle.admin_kubeconfig)

    # 1. Request and approve over REST; the worker provisions the bundle.
    namespace = request_namespace(api_client_for, member, manager, "payments-dev")
    wait_for(lambda: phase_of(namespace.pk) == Phase.READY, timeout=30, message="namespace Ready")
    namespace.refresh_from_db()
    request = Request.objects.get(namespace=namespace)
    assert request.state == Request.State.DONE and namespace.last_error == "" and namespace.attempts == 1
    assert_bundle_on_cluster(admin, namespace)
    bundle = bundle_for_namespace(namespace)
    provisioning_writes = [w for w in handle.request_log.writes() if w.namespace == namespace.name or w.path.endswith(f"/namespaces/{namespace.name}")]
    assert len(provisioning_writes) == len(bundle)  # writes per namespace / objects in its bundle = 1.0
    creates = [w for w in handle.request_log.writes() if w.verb == "create" and w.resource == "namespaces" and w.user_agent.startswith("platform-portal")]
    assert [(w.name, w.status) for w in creates] == [(namespace.name, 201)]  # plus the one create that refuses to adopt
    api_view = api_client_for(member).get(f"/api/v1/namespaces/{namespace.pk}/").json()
    assert api_view["phase"] == "Ready"

    # 2. Re-running the reconcile on an unchanged row: zero writes.
    handle.request_log.clear()
    result = tasks.reconcile_namespace.delay(namespace.pk)
    line = wait_for(lambda: task_finished(celery_worker.log_path, result.id), timeout=20, message="no-op reconcile finished")
    assert line.endswith("'unchanged'")
    assert handle.request_log.writes() == []

    # 3. Offboarding: removing a member deletes their binding (through the worker).
    from apps.teams.services import membership_remove

    membership_remove(actor=manager, membership=Membership.objects.get(user=viewer))
    rbac = k8s.RbacAuthorizationV1Api(admin)
    wait_for(lambda: "portal-victor-view" not in [b.metadata.name for b in rbac.list_namespaced_role_binding(namespace.name).items],
             timeout=20, message="viewer's binding removed")
    assert {b.metadata.name for b in rbac.list_namespaced_role_binding(namespace.name).items} == {"portal-alice-edit", "portal-bob-admin"}

    # 4. The cluster errors: the worker retries with backoff, the error is visible, then Ready.
    # Four 503s: the first meets the approval's preflight dry run (a cluster that
    # cannot answer is not a denial: the approval goes ahead), three the worker.
    handle.faults.fail_next(4, status=503, verbs=("patch",))
    second = request_namespace(api_client_for, member, manager, "payments-staging")
    wait_for(lambda: Namespace.objects.filter(pk=second.pk, phase=Phase.PROVISIONING).exclude(last_error="").exists(),
             timeout=20, message="error visible while Provisioning")
    assert "unable to handle the request" in Namespace.objects.get(pk=second.pk).last_error
    wait_for(lambda: phase_of(second.pk) == Phase.READY, timeout=40, message="Ready after the cluster recovered")
    second.refresh_from_db()
    assert second.attempts == 4 and second.last_error == ""
    assert Request.objects.get(namespace=second).state == Request.State.DONE
    assert_bundle_on_cluster(admin, second)

    # 5. Delete over REST: Terminating, then gone from the cluster, row kept as Deleted.
    deleted = api_client_for(manager).delete(f"/api/v1/namespaces/{namespace.pk}/")
    assert deleted.status_code == 202, deleted.content
    wait_for(lambda: phase_of(namespace.pk) == Phase.DELETED, timeout=20, message="namespace Deleted")

    def gone():
        try:
            k8s.CoreV1Api(admin).read_namespace(namespace.name)
        except ApiException as exc:
            return exc.status == 404
        return False  # still there (possibly Terminating while its content is removed)

    wait_for(gone, timeout=20, message="namespace removed from the cluster")
    admin.close()


# --- A worker killed mid-task (acks_late) ------------------------------------------------------------------


@pytest.fixture
def worker_factory(transactional_db, settings):
    """Start/kill real worker processes on a private queue (each in its own process group)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db_name = connection.settings_dict["NAME"]
    base_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    old = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    settings.CELERY_BACKGROUND_QUEUE = f"{queue}-background"
    procs = []

    def start(name: str, **extra_env):
        log_path = ROOT / "var" / f"celery-{queue}-{name}.log"
        log_path.parent.mkdir(exist_ok=True)
        env = dict(os.environ, DATABASE_URL=f"{base_url}/{db_name}", CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
                   CELERY_QUEUE=queue, DATABASE_CONN_MAX_AGE="0", PYTHONUNBUFFERED="1", **extra_env)
        log = open(log_path, "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", f"{queue},{queue}-background", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO", "-n", f"{name}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        proc.log_path, proc.log = log_path, log
        procs.append(proc)
        wait_for(lambda: "ready." in log_path.read_text() or proc.poll() is not None, timeout=30, message=f"worker {name} ready")
        assert proc.poll() is None, log_path.read_text()
        return proc

    yield start
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = old
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        proc.log.close()


def test_a_worker_killed_mid_task_loses_nothing(kubesim_cluster, worker_factory, api_client_for, member, manager):
    handle, cluster = kubesim_cluster
    # Redis hands an unacknowledged task to another worker after the
    # visibility timeout; production keeps an hour, the test 2 seconds.
    first = worker_factory("first", CELERY_VISIBILITY_TIMEOUT_SECONDS="2")
    # Slow writes so the worker is surely in the middle of applying when killed.
    slow = handle.faults.latency(1.0, verbs=("patch",))

    namespace = request_namespace(api_client_for, member, manager, "payments-killed")
    wait_for(lambda: any(w.verb == "patch" for w in handle.request_log.writes()), timeout=20, message="first apply started")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    row = Namespace.objects.get(pk=namespace.pk)
    assert row.phase == Phase.PROVISIONING and row.claimed_by  # mid-task: claimed, not finished
    task_id = row.claimed_by

    handle.faults.remove(slow["id"])
    time.sleep(2.5)  # past the visibility timeout
    second = worker_factory("second", CELERY_VISIBILITY_TIMEOUT_SECONDS="2")

    wait_for(lambda: phase_of(namespace.pk) == Phase.READY, timeout=60, message="the second worker finished the job")
    assert task_id in second.log_path.read_text()  # the same task, redelivered (not a resync)
    assert Request.objects.get(namespace=namespace).state == Request.State.DONE
    with official_client(handle.admin_kubeconfig) as admin:
        assert_bundle_on_cluster(admin, Namespace.objects.get(pk=namespace.pk))
