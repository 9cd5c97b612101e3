"""The tamper-evident audit chain: sealing, verification naming the first edit/deletion/insertion, the append-only
trigger on PostgreSQL, the purge checkpoint, exports verifiable alone, concurrent writers."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit import chain
from apps.audit.actions import Action
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from apps.audit.services import audit_record
from tests.conftest import allow_audit_rewrite, make_user

pytestmark = pytest.mark.django_db


def record(n: int, team) -> list[AuditEvent]:
    return [audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, before={"i": i}, after={"i": i + 1},
                         message=f"change {i}") for i in range(n)]


def verify_output() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_an_intact_chain_verifies_with_its_count(team):
    record(5, team)
    assert chain.seal() == 5 and chain.seal() == 0
    assert verify_output().strip() == "audit chain intact: 5 events"
    seals = list(AuditSeal.objects.order_by("seq"))
    assert seals[0].prev_hash == chain.GENESIS and all(b.prev_hash == a.chain_hash for a, b in zip(seals, seals[1:], strict=False))


def test_the_database_refuses_update_and_delete_of_audit_rows(team):
    event = record(1, team)[0]
    chain.seal()
    for statement in (lambda: AuditEvent.objects.filter(pk=event.pk).update(message="nothing happened"),
                      lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
                      lambda: AuditSeal.objects.all().update(chain_hash="0" * 64)):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    assert AuditEvent.objects.get(pk=event.pk).message == "change 0"


def test_deleting_the_actor_only_nulls_the_reference_and_the_chain_holds(team):
    alice = make_user("alice-gone")
    audit_record(actor=alice, action=Action.TEAM_UPDATE, target=team, team=team, after={"x": 1})
    alice.delete()  # the foreign key is SET NULL: the one update the trigger allows
    assert AuditEvent.objects.get().actor_id is None and AuditEvent.objects.get().actor_name == "alice-gone"
    assert "intact: 1 events" in verify_output()


@pytest.mark.parametrize(("tamper", "problem"), [
    ("edit", "event {id} (seal 3) was edited"),
    ("delete", "event {id} (seal 3) was deleted"),
    ("insert", "was inserted"),
])
def test_verification_names_the_first_edited_deleted_or_inserted_event(team, tamper, problem):
    events = record(5, team)
    chain.seal()
    target = events[2]
    allow_audit_rewrite()  # what someone with database access would do
    if tamper == "edit":
        AuditEvent.objects.filter(pk=target.pk).update(message="nothing to see")
    elif tamper == "delete":
        AuditEvent.objects.filter(pk=target.pk).delete()
    else:
        forged = AuditEvent(created_at=events[0].created_at - timedelta(hours=1), actor_name="mallory", via="ui",
                            action=Action.TEAM_UPDATE, target_type="teams.team", target_id=str(team.pk), target_repr="payments")
        forged.content_hash = chain.content_hash({name: getattr(forged, name) for name in chain.CONTENT_FIELDS})
        forged.save(force_insert=True)
    with pytest.raises(CommandError) as err:
        verify_output()
    assert problem.format(id=target.pk) in str(err.value)
    assert "audit chain broken after 2 intact events" in str(err.value) or tamper == "insert"


def test_purge_removes_old_events_and_the_verifier_starts_from_its_checkpoint(team):
    old = record(3, team)
    allow_audit_rewrite()
    AuditEvent.objects.filter(pk__in=[e.pk for e in old]).update(created_at=timezone.now() - timedelta(days=400))
    # Rehash the fabricated history so it is a valid chain to begin with (the test's own setup, not the product).
    for event in AuditEvent.objects.filter(pk__in=[e.pk for e in old]):
        AuditEvent.objects.filter(pk=event.pk).update(content_hash=chain.content_hash({n: getattr(event, n) for n in chain.CONTENT_FIELDS}))
    record(2, team)
    chain.seal()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL portal.audit_purge = 'off'")
    out = io.StringIO()
    call_command("audit_purge", "--before", (timezone.now() - timedelta(days=365)).strftime("%Y-%m-%d"), stdout=out)
    assert "purged 3 events" in out.getvalue()
    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.through_seq, checkpoint.removed_events) == (3, 3) and AuditEvent.objects.count() == 2
    assert verify_output().strip() == "audit chain intact: 2 events"
    with pytest.raises(CommandError, match="must be a date"):
        call_command("audit_purge", "--before", "last year")


def test_an_export_verifies_on_its_own_and_an_edit_in_it_is_found(team, api_client_for, admin_user, tmp_path):
    record(4, team)
    chain.seal()
    response = api_client_for(admin_user).get("/api/v1/audit-events/export/?format=jsonl")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/jsonl")
    lines = b"".join(response.streaming_content).decode().splitlines()
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(lines))
    out = io.StringIO()
    call_command("audit_verify", "--file", str(path), stdout=out)
    assert out.getvalue().strip().startswith("audit chain intact:")
    rows = [json.loads(line) for line in lines]
    rows[1]["message"] = "rewritten"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(CommandError, match="was edited"):
        call_command("audit_verify", "--file", str(path))


def test_concurrent_writers_keep_a_valid_chain(transactional_db, team):
    errors = []

    def writer(n):
        try:
            for i in range(10):
                with transaction.atomic():
                    audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, after={"w": n, "i": i})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    chain.seal(wait=True)
    assert AuditSeal.objects.count() == 80
    assert "intact: 80 events" in verify_output()
