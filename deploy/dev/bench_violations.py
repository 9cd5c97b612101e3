#!/usr/bin/env python
"""Violations benchmarks (issue 10, "Figures"), printed for `make bench`.

(a) ingest of 100,000 violations (200 Gatekeeper constraints listing 400 each,
    200 PolicyReports with 100 failing results each) from one kubesim cluster:
    target <= 60 s; then a second, unchanged ingest: target 0 database writes.
(b) a team's violations (team page, ``GET /api/v1/violations/?team=``): p95 with
    100,000 violations of other teams / p95 with none, target <= 1.5.
(c) preflight (server-side dry run) of one namespace's bundle: p95 <= 0.5 s.

Standalone: ``DATABASE_URL=postgres://... python deploy/dev/bench_violations.py``;
a scratch database ``<db>_bench_violations`` and a throw-away kubesim.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CONSTRAINTS, PER_CONSTRAINT, REPORTS, PER_REPORT = 200, 400, 200, 100


def main() -> int:
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"),
                                              "bench_violations")
    os.environ.update(DATABASE_URL=scratch_url, DATABASE_CONN_MAX_AGE="0", DJANGO_SETTINGS_MODULE="portal.settings_test",
                      LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    recreate_database(admin_url, scratch_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-violations-"))
    handle = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        call_command("migrate", verbosity=0)
        from apps.accounts.services import api_token_issue
        from apps.approvals.selectors import request_preflight
        from apps.clusters import kube
        from apps.clusters.services import cluster_register
        from apps.namespaces.models import Namespace
        from apps.namespaces.services import namespace_request_submit
        from apps.teams.models import Membership, Team
        from apps.violations.ingest import ingest_cluster
        from apps.violations.models import Violation
        from kubesim import resources
        from kubesim.testing import start
        from tests.conftest import install_portal_rbac, make_user

        handle = start(workdir / "kubesim")
        token = install_portal_rbac(handle)
        cluster = cluster_register(actor=None, name="bench", kubeconfig=handle.token_kubeconfig(
            token, workdir / "portal.kubeconfig", user="portal").read_text())
        quiet, busy = Team.objects.create(slug="quiet", name="Quiet"), Team.objects.create(slug="busy", name="Busy")
        ns_rt = resources.lookup("", "v1", "namespaces")
        names = [f"busy-{i}" for i in range(200)]
        for name in names + ["quiet-0"]:
            handle.store.create(ns_rt, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        Namespace.objects.bulk_create([Namespace(team=busy, cluster=cluster, name=n, phase="Ready") for n in names]
                                      + [Namespace(team=quiet, cluster=cluster, name="quiet-0", phase="Ready")])
        rt = resources.lookup("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels")
        for c in range(CONSTRAINTS):
            violations = [{"enforcementAction": "deny", "kind": "Pod", "name": f"pod-{c}-{i}", "namespace": names[i % len(names)],
                           "message": f"you must provide labels: owner (constraint {c})"} for i in range(PER_CONSTRAINT)]
            handle.store.create(rt, {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels",
                                     "metadata": {"name": f"owner-{c}"}, "spec": {"enforcementAction": "deny"},
                                     "status": {"totalViolations": PER_CONSTRAINT, "violations": violations}})
        pr = resources.lookup("wgpolicyk8s.io", "v1alpha2", "policyreports")
        for r in range(REPORTS):
            namespace = names[r % len(names)]
            results = [{"policy": "require-requests", "rule": f"rule-{i}", "result": "fail", "message": f"missing requests {r}-{i}",
                        "resources": [{"kind": "Pod", "name": f"p-{r}-{i}", "namespace": namespace}]} for i in range(PER_REPORT)]
            handle.store.create(pr, {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
                                     "metadata": {"name": f"polr-{r}", "namespace": namespace}, "results": results})
        print("violations benchmarks (kubesim, PostgreSQL)")

        t0 = time.monotonic()
        first = ingest_cluster(cluster)
        ingest_s = time.monotonic() - t0
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.monotonic()
            second = ingest_cluster(cluster)
            second_s = time.monotonic() - t0
        writes = [q for q in ctx.captured_queries if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.I)]
        ok_a = first.ok and second.ok and first.created == CONSTRAINTS * PER_CONSTRAINT + REPORTS * PER_REPORT and ingest_s <= 60 and not writes
        print(f"  (a) ingest of {first.created} violations: {ingest_s:.1f}s (target <= 60s); second, unchanged ingest: "
              f"{second_s:.1f}s, {len(writes)} database writes (target 0) {'OK' if ok_a else 'MISSED'}")

        viewer = make_user("bench-viewer")
        Membership.objects.create(team=quiet, user=viewer, role="member")
        page, api = Client(), Client()
        page.force_login(viewer)
        _, api_token = api_token_issue(actor=None, user=viewer)
        auth = {"HTTP_AUTHORIZATION": f"Token {api_token}"}

        def p95(client, url, headers) -> float:
            client.get(url, **headers)
            times = []
            for _ in range(20):
                t = time.monotonic()
                assert client.get(url, **headers).status_code == 200
                times.append(time.monotonic() - t)
            return percentile(times, 95)

        with_others = (p95(page, "/teams/quiet/", {}), p95(api, "/api/v1/violations/?team=quiet", auth))
        stored = Violation.objects.count()
        Violation.objects.all().delete()
        without = (p95(page, "/teams/quiet/", {}), p95(api, "/api/v1/violations/?team=quiet", auth))
        ok_b = True
        for label, a, b in (("team page", with_others[0], without[0]), ("GET /api/v1/violations/?team=", with_others[1], without[1])):
            ratio = a / b
            ok_b = ok_b and ratio <= 1.5
            print(f"  (b) {label}: p95 {a * 1000:.1f} ms with {stored} violations of other teams, {b * 1000:.1f} ms with none: "
                  f"ratio {ratio:.2f} (target <= 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}")

        dev, manager = make_user("bench-dev"), make_user("bench-manager")
        Membership.objects.bulk_create([Membership(team=quiet, user=dev, role="member"), Membership(team=quiet, user=manager, role="manager")])
        req = namespace_request_submit(actor=dev, team=quiet, cluster=cluster, name="quiet-new", purpose="bench")
        times = []
        for _ in range(30):
            t = time.monotonic()
            verdict = request_preflight(req)
            times.append(time.monotonic() - t)
            assert not verdict["denied"] and not verdict["error"], verdict
        ok_c = percentile(times, 95) <= 0.5
        print(f"  (c) preflight of one bundle: p50 {percentile(times, 50) * 1000:.1f} ms p95 {percentile(times, 95) * 1000:.1f} ms "
              f"(target <= 500 ms) {'OK' if ok_c else 'MISSED'}")
        kube.forget_clients()
        return 0 if ok_a and ok_b and ok_c else 1
    finally:
        if handle is not None:
            handle.stop()
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
