#!/usr/bin/env python
"""kubectl-portal benchmarks (issue 13, "Figures"), printed for `make bench`.

(a) ``kubectl portal request namespace ... --wait`` against a real worker (an
    auto-approval rule decides): p95 of 20 from command start to exit <= 3 s.
(b) ``kubectl portal kubeconfig NS --merge`` (key made locally, CSR signed by
    kubesim): p95 of 20 <= 1 s.

Everything real: the ``kubectl`` binary (plugin discovery included), gunicorn
serving the portal, a Celery worker, kubesim. Standalone:
``DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python deploy/dev/bench_cli.py``;
a scratch database ``<db>_bench_cli``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchlib import percentile, portal_kubesim, recreate_database, scratch_database, start_worker, wait  # noqa: E402

RUNS = 20
QUOTA = "requests.cpu=100m,limits.cpu=200m,requests.memory=128Mi,limits.memory=256Mi"


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if not broker:
        sys.exit("bench_cli: set CELERY_BROKER_URL (the benchmark runs a real worker)")
    kubectl = shutil.which("kubectl") or str(ROOT / ".venv" / "bin" / "kubectl")
    scratch_url, admin_url = scratch_database(database_url, "bench_cli")
    queue = f"bench-cli-{uuid.uuid4().hex[:8]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(DATABASE_URL=scratch_url, CELERY_BROKER_URL=broker, CELERY_QUEUE=queue, DATABASE_CONN_MAX_AGE="60",
                      DJANGO_SETTINGS_MODULE="portal.settings_test", LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
                      ALLOWED_HOSTS="127.0.0.1", GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    worker = web = handle = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.accounts.services import api_token_issue
        from apps.quotas.models import ApprovalRule
        from apps.teams.models import Membership
        from apps.teams.services import team_create
        from tests.conftest import make_user

        handle, _ = portal_kubesim(workdir, "bench")
        team = team_create(actor=None, slug="bench", name="Bench")
        dev = make_user("bench-dev")
        Membership.objects.create(team=team, user=dev, role=Membership.Role.MEMBER)
        ApprovalRule.objects.create(name="bench", kind=ApprovalRule.Kind.NAMESPACE)
        api_token = api_token_issue(actor=None, user=dev, name="bench")[1]
        django.db.connections.close_all()

        worker = start_worker(dict(os.environ), workdir / "worker.log", ROOT)
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py", "portal.wsgi:application"],
                               cwd=ROOT, env=dict(os.environ), stdout=open(workdir / "web.log", "w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
        url = f"http://127.0.0.1:{port}"

        def up():
            try:
                import urllib.request

                return urllib.request.urlopen(f"{url}/readyz", timeout=2).status == 200
            except OSError:
                return False

        wait(up, 60, "gunicorn ready", 0.1)
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", HOME=str(workdir),
                   KUBECTL_PORTAL_CONFIG=str(workdir / "portal.json"), KUBECONFIG=str(workdir / "kube" / "config"))

        def portal(*args, stdin=None):
            result = subprocess.run([kubectl, "portal", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)
            if result.returncode != 0:
                raise RuntimeError(f"kubectl portal {' '.join(args)}: {result.stderr}")
            return result

        portal("login", "--url", url, "--token-stdin", stdin=api_token + "\n")
        portal("request", "namespace", "bench-warm", "--team", "bench", "--cluster", "bench", "--quota", QUOTA, "--wait")
        portal("kubeconfig", "bench-warm", "--merge")
        requested, merged = [], []
        for i in range(RUNS):
            started = time.perf_counter()
            portal("request", "namespace", f"bench-{i}", "--team", "bench", "--cluster", "bench", "--quota", QUOTA, "--wait")
            requested.append(time.perf_counter() - started)
        for i in range(RUNS):
            started = time.perf_counter()
            portal("kubeconfig", f"bench-{i}", "--merge")
            merged.append(time.perf_counter() - started)
    finally:
        for proc in (web, worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
        if handle is not None:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)
    a, b = percentile(requested, 95), percentile(merged, 95)
    print(f"cli: kubectl portal request namespace --wait, p95 of {RUNS}: {a:.2f} s (target <= 3 s) {'OK' if a <= 3 else 'MISSED'}")
    print(f"cli: kubectl portal kubeconfig --merge, p95 of {RUNS}: {b:.2f} s (target <= 1 s) {'OK' if b <= 1 else 'MISSED'}")
    return 0 if a <= 3 and b <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
