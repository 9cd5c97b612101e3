"""Shared parts of the benchmarks under deploy/dev: scratch database, a real worker, percentiles."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def scratch_database(url: str, suffix: str) -> tuple[str, str]:
    """(scratch URL, admin URL) for a throw-away database ``<name>_<suffix>`` next to DATABASE_URL's."""
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"{suffix}: DATABASE_URL must point at PostgreSQL (a real worker process shares the database)")
    base, _, name = url.rpartition("/")
    name = name.split("?")[0] or "portal"
    return f"{base}/{name}_{suffix}", f"{base}/postgres"


def recreate_database(admin_url: str, scratch_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = scratch_url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def start_worker(env: dict, log_path: Path, root: Path, *, interactive_only: bool = False) -> subprocess.Popen:
    """A real ``celery worker`` on the benchmark's own queues (interactive first; or interactive only); returns once ready."""
    log = open(log_path, "w")
    queues = env["CELERY_QUEUE"] if interactive_only else f"{env['CELERY_QUEUE']},{env['CELERY_QUEUE']}-background"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues, "-n", f"{'interactive' if interactive_only else 'all'}@%h",
         "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"celery worker did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    return proc


def wait(predicate, timeout: float, what: str, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def portal_kubesim(workdir: Path, name: str):
    """A throw-away kubesim with the portal's RBAC applied, registered as cluster ``name``: (handle, cluster).

    Call after ``django.setup()``.
    """
    from apps.clusters.services import cluster_register
    from kubesim.testing import start
    from tests.conftest import install_portal_rbac

    handle = start(workdir / f"kubesim-{name}")
    token = install_portal_rbac(handle)
    kubeconfig = handle.token_kubeconfig(token, workdir / f"portal-{name}.kubeconfig", user="portal").read_text()
    return handle, cluster_register(actor=None, name=name, kubeconfig=kubeconfig)
