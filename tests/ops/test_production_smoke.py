"""Production smoke: gunicorn, a Celery worker and beat started as processes with the production settings
(``portal.settings``, DEBUG=false, HTTPS behind a proxy, HSTS, secure cookies, static files through
whitenoise, PostgreSQL, Redis, JSON logs, Prometheus multiprocess mode), serving the login page, a
whole namespace request -> approval -> Ready on kubesim over the REST API, ``/readyz`` and ``/metrics``
with the domain series. Prints the web container's cold start to ready; greps every process's log for
the secrets it was given.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from apps.accounts.services import api_token_issue
from tests.conftest import wait_for
from tests.figures import report

ROOT = Path(__file__).resolve().parents[2]
# The test process's own keys (portal.settings_test): the processes read the rows it writes
# (cluster credentials encrypted with the Fernet key, API tokens).
SECRET_KEY = os.environ["SECRET_KEY"]
FERNET_KEY = os.environ["CLUSTER_CREDENTIAL_KEYS"]
METRICS_TOKEN = "smoke-metrics-token-5d3b9f1a7c2e"
HTTPS = {"X-Forwarded-Proto": "https"}  # what the ingress adds; the pods trust it (SECURE_PROXY_SSL_HEADER)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production(transactional_db, tmp_path, settings):
    """Start web (gunicorn), worker and beat with production settings on the test database."""
    port = free_port()
    queue = f"smoke-{port}"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    prometheus_dir = tmp_path / "prometheus"
    prometheus_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "DJANGO_ALLOW"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "false", "SECRET_KEY": SECRET_KEY,
        "CLUSTER_CREDENTIAL_KEYS": FERNET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}", "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": queue, "STATIC_ROOT": str(tmp_path / "static"),
        "METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(prometheus_dir), "LOG_FORMAT": "json",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "WORKER_HEARTBEAT_FILE": str(tmp_path / "heartbeat"), "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
        "RESYNC_INTERVAL_SECONDS": "5", "PYTHONUNBUFFERED": "1",
    })
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    logs = {name: tmp_path / f"{name}.log" for name in ("migrate", "web", "worker", "beat")}
    started = time.monotonic()
    # The migration Job, then the web container.
    with open(logs["migrate"], "w") as out:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=out, stderr=out)
    commands = {
        "web": [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py", "portal.wsgi:application"],
        "worker": [sys.executable, "-m", "celery", "-A", "portal", "-q", "worker", "-Q", f"{queue},{queue}-background", "--concurrency=2", "-l", "INFO"],
        "beat": [sys.executable, "-m", "celery", "-A", "portal", "-q", "beat", "-l", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
    }
    procs = {}
    for name, command in commands.items():
        procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(logs[name], "w"), stderr=subprocess.STDOUT,
                                       start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return requests.get(f"{url}/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(ready, timeout=60, message="web ready")
    cold_start = time.monotonic() - started
    yield {"url": url, "logs": logs, "procs": procs, "cold_start": cold_start, "env": env}
    stop(procs.values())


def stop(procs) -> None:
    """As Kubernetes stops a container: SIGTERM to the main process only, SIGKILL to all after a grace period."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.integration
def test_production_processes_serve_the_whole_flow(production, kubesim_cluster, member, manager):
    url = production["url"]
    report(f"production smoke: web container cold start to ready (migrations applied) {production['cold_start']:.1f} s")
    # HTTPS is enforced: plain HTTP without the proxy header is redirected.
    assert requests.get(f"{url}/login/", allow_redirects=False, timeout=5).status_code == 301
    login = requests.get(f"{url}/login/", headers=HTTPS, timeout=5)
    assert login.status_code == 200 and "Log in" in login.text
    assert login.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Content-Security-Policy" in login.headers
    static = requests.get(f"{url}/static/css/portal.css", headers=HTTPS, timeout=5)  # whitenoise
    assert static.status_code == 200 and ".btn" in static.text

    member_token = api_token_issue(actor=None, user=member, name="smoke")[1]
    manager_token = api_token_issue(actor=None, user=manager, name="smoke")[1]
    api = lambda token: {**HTTPS, "Authorization": f"Token {token}"}  # noqa: E731
    created = requests.post(f"{url}/api/v1/namespace-requests/", headers=api(member_token), timeout=10, json={
        "cluster": "sim", "team": "payments", "name": "smoke-dev", "purpose": "smoke", "quota": {"pods": "5"}})
    assert created.status_code == 201, created.text
    approved = requests.post(f"{url}/api/v1/requests/{created.json()['id']}/approve/", headers=api(manager_token),
                             json={"reason": "smoke"}, timeout=30)
    assert approved.status_code == 200, approved.text
    namespace_id = approved.json()["namespace"]

    def phase():
        return requests.get(f"{url}/api/v1/namespaces/{namespace_id}/", headers=api(member_token), timeout=5).json()["phase"]

    wait_for(lambda: phase() == "Ready", timeout=60, message="namespace Ready through the worker")

    readyz = requests.get(f"{url}/readyz", timeout=5)
    assert readyz.status_code == 200 and readyz.json()["checks"]["broker"] == "ok"
    assert requests.get(f"{url}/metrics", headers=HTTPS, timeout=5).status_code == 401
    scrape = lambda: requests.get(f"{url}/metrics", headers={**HTTPS, "Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text  # noqa: E731
    # Worker-side series reach the web's /metrics through the shared multiprocess directory
    # (the task records its duration just after the namespace turned Ready).
    def with_reconcile():
        text = scrape()
        return text if 'portal_reconcile_duration_seconds_count{outcome="applied"} 1.0' in text else None

    metrics = wait_for(with_reconcile, timeout=10, message="the worker's reconcile histogram")
    assert 'portal_namespaces{cluster="sim",phase="Ready"} 1.0' in metrics
    assert "portal_approval_to_ready_seconds_count 1.0" in metrics
    assert 'portal_requests_waiting{kind="namespace"} 0.0' in metrics
    assert 'portal_http_requests_total{method="POST",status="201",view="namespace-request-list"}' in metrics
    # Beat is scheduling (the resync runs every 5 s here).
    wait_for(lambda: "apps.namespaces.tasks.resync" in production["logs"]["beat"].read_text(), timeout=20, message="beat scheduled")
    assert Path(production["env"]["WORKER_HEARTBEAT_FILE"]).exists()  # the worker's liveness probe has its file

    # Logs: one JSON object per line, the request id of the approval reaches the worker, and no secret anywhere.
    stop(production["procs"].values())
    approval_id = approved.headers["X-Request-ID"]
    texts = {name: path.read_text() for name, path in production["logs"].items()}
    for name in ("web", "worker", "beat"):
        lines = [line for line in texts[name].splitlines() if line.strip()]
        assert lines, f"{name} logged nothing"
        # Celery prints its shutdown notice itself, not through logging: the one line allowed.
        bad = [line for line in lines if not line.startswith("{") and line != "worker: Warm shutdown (MainProcess)"]
        assert not bad, f"{name}: lines that are not JSON: {bad[:3]}"
        for line in lines:
            if line.startswith("{"):
                json.loads(line)
    assert approval_id in texts["worker"]
    secrets = [SECRET_KEY, FERNET_KEY, METRICS_TOKEN, member_token, manager_token, "PRIVATE KEY"]
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret reached the {name} log"
