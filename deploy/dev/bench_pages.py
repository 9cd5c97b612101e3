#!/usr/bin/env python
"""Pages at fleet size (issue 14, "Figures"), printed for `make bench`.

p95 of the dashboard (a developer), the approval queue (a manager), the
namespace list API (a developer) and the team page (a manager) with 10,000
namespaces (and 2,000 waiting requests) in the team, divided by the p95 with
100 namespaces (and 20 requests): target <= 1.5 each. Through Django's test
client, in one process. ``DATABASE_URL=postgres://... python deploy/dev/bench_pages.py``;
a scratch database ``<db>_bench_pages``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

RUNS = 40
SMALL, LARGE = 100, 10_000


def main() -> int:
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), "bench_pages")
    os.environ.update(DATABASE_URL=scratch_url, DATABASE_CONN_MAX_AGE="60", DJANGO_SETTINGS_MODULE="portal.settings_test",
                      LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    recreate_database(admin_url, scratch_url)
    results: dict[str, list[float]] = {}
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        call_command("migrate", verbosity=0)
        from apps.approvals.models import Request
        from apps.namespaces.models import Namespace
        from apps.teams.models import Membership, Team
        from tests.conftest import make_user
        from tests.pages import make_cluster

        team = Team.objects.create(slug="fleet", name="Fleet")
        dev, manager = make_user("fleet-dev"), make_user("fleet-manager")
        Membership.objects.create(team=team, user=dev, role=Membership.Role.MEMBER)
        Membership.objects.create(team=team, user=manager, role=Membership.Role.MANAGER)
        clusters = [make_cluster(f"c{i}") for i in range(5)]
        quota = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "20"}
        used = {"requests.cpu": "500m", "requests.memory": "512Mi", "pods": "4"}
        payload = {"purpose": "bench", "quota": quota, "ttl_hours": None, "pod_security_level": "restricted"}

        def grow(to: int) -> None:
            have = Namespace.objects.count()
            Namespace.objects.bulk_create([Namespace(team=team, cluster=clusters[i % 5], name=f"ns-{i}", owner=dev, phase="Ready",
                                                     quota=quota, quota_used=used) for i in range(have, to)], batch_size=2000)
            waiting = Request.objects.count()
            Request.objects.bulk_create([Request(kind="namespace", team=team, requester=dev, cluster=clusters[i % 5], name=f"req-{i}",
                                                 payload=payload) for i in range(waiting, to // 5)], batch_size=2000)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        pages = {
            "dashboard": (dev, "/"),
            "approval queue": (manager, "/requests/queue/"),
            "namespace list API": (dev, "/api/v1/namespaces/"),
            "team page": (manager, "/teams/fleet/"),
        }
        clients = {}
        for user in (dev, manager):
            client = Client()
            client.force_login(user)
            clients[user.pk] = client
        for size in (SMALL, LARGE):
            grow(size)
            for name, (user, url) in pages.items():
                client = clients[user.pk]
                for _ in range(3):
                    assert client.get(url).status_code == 200, (name, url)
                samples = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    client.get(url)
                    samples.append(time.perf_counter() - started)
                results[f"{name}@{size}"] = samples
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)
    ok = True
    for name in ("dashboard", "approval queue", "namespace list API", "team page"):
        small, large = percentile(results[f"{name}@{SMALL}"], 95), percentile(results[f"{name}@{LARGE}"], 95)
        ratio = large / small
        ok &= ratio <= 1.5
        print(f"pages: {name}: p95 {small * 1000:.0f} ms at {SMALL:,} namespaces, {large * 1000:.0f} ms at {LARGE:,}: "
              f"ratio {ratio:.2f} (target <= 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
