#!/usr/bin/env python
"""Audit benchmarks (issue 11, "Figures"), printed for `make bench`.

(a) the audit page and ``GET /api/v1/audit-events/``: p95 at 1,000,000 events / p95 at 1,000 (target <= 1.5).
(b) audit writes with 8 concurrent writers while a sealer chains them every 0.5 s / the same writers with no sealer
    (target >= 0.8).
(c) ``audit_verify`` over 1,000,000 events (target <= 60 s).

Events for (a) and (c) are inserted with one SQL statement (their content hashes computed by the same
function the portal uses), then sealed by the portal's sealer. ``AUDIT_BENCH_EVENTS`` changes the size.
Standalone: ``DATABASE_URL=postgres://... python deploy/dev/bench_audit.py``; scratch database ``<db>_bench_audit``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from benchlib import percentile, recreate_database, scratch_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

EVENTS = int(os.environ.get("AUDIT_BENCH_EVENTS", "1000000"))


def main() -> int:
    scratch_url, admin_url = scratch_database(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"), "bench_audit")
    os.environ.update(DATABASE_URL=scratch_url, DATABASE_CONN_MAX_AGE="0", DJANGO_SETTINGS_MODULE="portal.settings_test",
                      LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    recreate_database(admin_url, scratch_url)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.test import Client

        call_command("migrate", verbosity=0)
        from apps.accounts.models import User
        from apps.accounts.services import api_token_issue
        from apps.audit import chain
        from apps.audit.actions import Action
        from apps.audit.models import AuditEvent
        from apps.audit.services import audit_record
        from apps.teams.models import Team
        from tests.conftest import make_user

        team = Team.objects.create(slug="bench", name="Bench")
        admin = make_user("bench-admin", platform_role=User.PlatformRole.ADMIN)
        page, api = Client(), Client()
        page.force_login(admin)
        _, token = api_token_issue(actor=None, user=admin)
        auth = {"HTTP_AUTHORIZATION": f"Token {token}"}

        def fill(total: int) -> None:
            """Insert events up to ``total`` (same content each but the message), hashes included, then seal them."""
            have = AuditEvent.objects.count()
            if total <= have:
                return
            if not have:
                audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, after={"start": True})
                have = 1
            with connection.cursor() as cursor:
                cursor.execute("""
                    INSERT INTO audit_auditevent (created_at, actor_name, via, action, target_type, target_id, target_repr, team_id,
                                                  before, after, message, request_id, client_request_id, content_hash)
                    SELECT (SELECT max(created_at) FROM audit_auditevent) + (g || ' milliseconds')::interval, 'bench', 'api', 'team.update', 'teams.team', %s, 'bench', %s,
                           NULL, '{"i": 1}'::jsonb, 'event ' || g, '', '', ''
                    FROM generate_series(%s, %s) AS g""", [str(team.pk), team.pk, have + 1, total])
            # The content hashes, computed exactly as audit_record does (the migration's way for old rows).
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL portal.audit_purge = 'on'")
                batch = []
                for event in AuditEvent.objects.filter(content_hash="").iterator(chunk_size=5000):
                    event.content_hash = chain.content_hash({n: getattr(event, n) for n in chain.CONTENT_FIELDS})
                    batch.append(event)
                    if len(batch) == 5000:
                        AuditEvent.objects.bulk_update(batch, ["content_hash"])
                        batch = []
                AuditEvent.objects.bulk_update(batch, ["content_hash"])
            while chain.seal(limit=50_000, wait=True):
                pass

        def p95(client, url, headers) -> float:
            client.get(url, **headers)
            times = []
            for _ in range(20):
                t = time.monotonic()
                assert client.get(url, **headers).status_code == 200
                times.append(time.monotonic() - t)
            return percentile(times, 95)

        print(f"audit benchmarks (PostgreSQL, {EVENTS} events)")
        fill(1000)
        small = (p95(page, "/audit/", {}), p95(api, "/api/v1/audit-events/", auth))
        t0 = time.monotonic()
        fill(EVENTS)
        print(f"      (setup: {EVENTS} events inserted, hashed and sealed in {time.monotonic() - t0:.0f}s)")
        big = (p95(page, "/audit/", {}), p95(api, "/api/v1/audit-events/", auth))
        ok = True
        for label, a, b in (("audit page", small[0], big[0]), ("GET /api/v1/audit-events/", small[1], big[1])):
            ratio = b / a
            ok = ok and ratio <= 1.5
            print(f"  (a) {label}: p95 {a * 1000:.1f} ms at 1,000 events, {b * 1000:.1f} ms at {EVENTS}: ratio {ratio:.2f} "
                  f"(target <= 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}")

        t0 = time.monotonic()
        finding = chain.verify()
        verify_s = time.monotonic() - t0
        ok_c = finding.ok and verify_s <= 60
        print(f"  (c) audit_verify over {finding.checked} events: {verify_s:.1f}s (target <= 60s) {'OK' if ok_c else 'MISSED'}"
              + ("" if finding.ok else f" — {finding.problem}"))

        def writers(sealing: bool, per_writer: int = 150) -> float:
            stop = threading.Event()

            def write():
                for i in range(per_writer):
                    with transaction.atomic():
                        audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, after={"i": i})
                connection.close()

            def seal_loop():
                while not stop.is_set():  # far more often than the beat task's default (60 s)
                    chain.seal(wait=True)
                    stop.wait(0.5)
                connection.close()

            sealer = threading.Thread(target=seal_loop) if sealing else None
            if sealer:
                sealer.start()
            threads = [threading.Thread(target=write) for _ in range(8)]
            t = time.monotonic()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            elapsed = time.monotonic() - t
            stop.set()
            if sealer:
                sealer.join()
            return 8 * per_writer / elapsed

        unchained = writers(False)
        chained = writers(True)
        ratio = chained / unchained
        ok_b = ratio >= 0.8
        print(f"  (b) 8 concurrent audit writers: {chained:.0f} events/s chained, {unchained:.0f} events/s without the sealer: "
              f"ratio {ratio:.2f} (target >= 0.8) {'OK' if ok_b else 'MISSED'}")
        return 0 if ok and ok_b and ok_c else 1
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, scratch_url, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
