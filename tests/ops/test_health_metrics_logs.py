"""Operations: /healthz, /readyz (503 naming the failed check), /metrics (bearer token, the domain
series), the worker's liveness probe, JSON logs carrying the request id into Celery tasks and audit
events, and secrets redacted from logs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.core import health
from apps.core.logging import redact
from apps.namespaces.models import Namespace
from apps.onboarding.models import IssuedCertificate
from tests.pages import make_cluster, make_namespace, make_request

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests-0123456789"


# --- health ------------------------------------------------------------------------------------------


def test_healthz_answers_without_asking_anything(client):
    # No database access is allowed in this test: a query would fail it.
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")  # a kubelet probe: the pod IP as Host
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_broker_and_migrations(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "migrations": "ok"}}


@pytest.mark.django_db
def test_readyz_says_which_check_failed(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("failed: ConnectionError")

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(health.MigrationExecutor, "migration_plan", lambda self, targets: [(type("M", (), {"app_label": "x", "name": "0002_new"})(), False)])
    settings.CELERY_BROKER_URL = "memory://"
    body = client.get("/readyz").json()
    assert body["checks"]["broker"].startswith("not used")
    assert "1 migration(s) not applied, first x.0002_new" in body["checks"]["migrations"]


def test_worker_liveness_probe(tmp_path):
    beat = tmp_path / "heartbeat"
    run = lambda *args: subprocess.run([sys.executable, "-m", "portal.worker_health", *args], cwd=ROOT, capture_output=True,  # noqa: E731
                                       text=True, env=dict(os.environ, WORKER_HEARTBEAT_FILE=str(beat)))
    missing = run()
    assert missing.returncode == 1 and "does not exist" in missing.stdout
    beat.touch()
    assert run().returncode == 0
    old = time.time() - 300
    os.utime(beat, (old, old))
    stale = run()
    assert stale.returncode == 1 and "300 s old" in stale.stdout


def test_the_worker_touches_its_heartbeat(celery_worker):
    path = Path(os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat"))
    assert path.exists() and time.time() - path.stat().st_mtime < 60


# --- metrics -----------------------------------------------------------------------------------------


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.django_db
def test_metrics_needs_the_token(client, settings):
    assert client.get("/metrics").status_code == 404  # off without METRICS_TOKEN
    settings.METRICS_TOKEN = TOKEN
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


@pytest.mark.django_db
def test_metrics_carry_the_domain_series(client, metrics_on, team, member, manager):
    dev = make_cluster("dev")
    make_namespace(team, dev, "a")
    make_namespace(team, dev, "b", phase=Namespace.Phase.FAILED)
    make_request(team, member, dev, "waiting")
    Request.objects.filter(name="waiting").update(created_at=timezone.now() - timedelta(minutes=10))
    now = timezone.now()
    make_request(team, member, dev, "done", state=Request.State.DONE, decided_at=now - timedelta(seconds=8), finished_at=now)
    IssuedCertificate.objects.create(user=member, cluster=dev, subject="CN=x", serial="01", fingerprint_sha256="ff", not_before=now,
                                     not_after=now + timedelta(hours=1), csr_name="c", key_mode="user")
    Client().get("/healthz")  # an HTTP request for the HTTP series
    text = scrape(client)
    assert 'portal_namespaces{cluster="dev",phase="Ready"} 1.0' in text
    assert 'portal_namespaces{cluster="dev",phase="Failed"} 1.0' in text
    assert 'portal_requests_waiting{kind="namespace"} 1.0' in text
    oldest = next(line for line in text.splitlines() if line.startswith('portal_request_oldest_waiting_seconds{kind="namespace"}'))
    assert 590 < float(oldest.split()[-1]) < 700
    assert 'portal_approval_to_ready_seconds_bucket{le="5.0"} 0.0' in text
    assert 'portal_approval_to_ready_seconds_bucket{le="10.0"} 1.0' in text
    assert "portal_approval_to_ready_seconds_count 1.0" in text
    assert "portal_kubeconfigs_issued_total 1.0" in text
    assert 'portal_cluster_healthy{cluster="dev"' in text
    assert 'portal_celery_queue_depth{queue="' in text
    assert "portal_http_requests_total{" in text and "portal_http_request_duration_seconds_bucket{" in text
    assert "# TYPE portal_reconcile_duration_seconds histogram" in text


@pytest.mark.django_db
def test_metrics_queries_stay_flat_as_namespaces_grow(client, metrics_on, team):
    dev = make_cluster("dev")
    make_namespace(team, dev, "ns-0")
    with CaptureQueriesContext(connection) as few:
        scrape(client)
    Namespace.objects.bulk_create([Namespace(team=team, cluster=dev, name=f"ns-{i}", quota={}) for i in range(1, 200)])
    with CaptureQueriesContext(connection) as many:
        scrape(client)
    assert len(many.captured_queries) == len(few.captured_queries)


# --- logs ----------------------------------------------------------------------------------------------


def test_redaction_of_tokens_passwords_keys_and_url_credentials():
    text = redact("Authorization: Bearer abcdef0123456789 token=s3cr3t password: hunter2 "
                  "postgres://portal:pa55w0rd@db:5432/portal -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----")
    for secret in ("abcdef0123456789", "s3cr3t", "hunter2", "pa55w0rd", "MHcC"):
        assert secret not in text
    assert "postgres://portal:[redacted]@db:5432/portal" in text


def test_a_log_line_is_json_with_the_request_id_and_no_secret():
    code = (
        "import django, logging; django.setup()\n"
        "from apps.core.context import acting_via\n"
        "with acting_via('api', 'rid-123'):\n"
        "    logging.getLogger('portal.test').warning('calling with Token %s', 'deadbeefdeadbeef0123')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, LOG_FORMAT="json", DJANGO_SETTINGS_MODULE="portal.settings_test"))
    line = next(line for line in result.stderr.splitlines() if "portal.test" in line)
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["request_id"] == "rid-123" and record["via"] == "api"
    assert record["message"] == "calling with Token [redacted]" and "deadbeef" not in line


@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_the_work_into_the_worker_and_its_audit(celery_worker, api_client_for, kubesim_cluster, member, manager):
    from tests.conftest import wait_for

    created = api_client_for(member).post("/api/v1/namespace-requests/", {
        "cluster": "sim", "team": "payments", "name": "traced", "quota": {"pods": "5"}}, format="json")
    assert created.status_code == 201
    approved = api_client_for(manager).post(f"/api/v1/requests/{created.json()['id']}/approve/", {}, format="json")
    request_id = approved["X-Request-ID"]
    wait_for(lambda: Namespace.objects.filter(name="traced", phase=Namespace.Phase.READY).exists(), timeout=30, message="Ready")
    # The approval (web) and the apply (worker) share the approving request's id.
    actions = set(AuditEvent.objects.filter(request_id=request_id).values_list("via", "action"))
    assert ("api", "request.approve") in actions and ("worker", "namespace.ready") in actions
    # The worker logs the apply just after the namespace turned Ready.
    wait_for(lambda: request_id in Path(celery_worker.log_path).read_text(), timeout=10, message="the request id in the worker's log")
    logging.getLogger(__name__).info("traced %s", request_id)
