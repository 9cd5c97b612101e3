"""The tamper-evident audit chain.

Writers never wait for each other: each event stores the SHA-256 of its own
canonical content, in the change's transaction (no shared lock). A sealer
(the ``seal-audit`` beat task every ``AUDIT_SEAL_INTERVAL_SECONDS``, and
``audit_verify`` / the JSON-lines export before they read) then links
committed events into a hash chain, under a PostgreSQL advisory lock held
only while it seals (``AuditSeal``:
``chain_hash = sha256(prev_hash + content_hash)``, ``seq`` = the order it
saw them). The database refuses UPDATE and DELETE on events and seals (a
trigger, migration ``0006``); the one way to remove events is
``manage.py audit_purge``, which records an ``AuditCheckpoint`` the
verifier starts from.

Canonical content (stable; changing it would break every existing chain):
``json.dumps([created_at (ISO 8601, UTC, microseconds), actor_name, via,
action, target_type, target_id, target_repr, before, after, message,
request_id, client_request_id], sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8. The actor and team foreign keys are
not in it: the database may set them to NULL when the user or team is
deleted (the trigger allows exactly that change and nothing else).

``verify`` walks the chain and names the first edited event (content hash
differs), deleted event (a seal without its event), inserted event (an
event sealed after events created more than ``SEAL_WINDOW`` later, i.e.
added in the past) or broken link. It works on the database or on an
export (JSON lines carrying the hashes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

GENESIS = "0" * 64
SEAL_LOCK = 0x617564  # "aud"
# A transaction may commit its event this long after writing it; an event
# sealed later than events created this much after it was added in the past.
SEAL_WINDOW = timedelta(minutes=10)
BATCH = 5000


def canonical(fields: dict) -> bytes:
    created = fields["created_at"]
    if isinstance(created, datetime):
        created = created.astimezone(UTC).isoformat(timespec="microseconds")
    content = [created, fields["actor_name"], fields["via"], str(fields["action"]), fields["target_type"], fields["target_id"],
               fields["target_repr"], fields["before"], fields["after"], fields["message"], fields["request_id"],
               fields["client_request_id"]]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(fields: dict) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def link(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


CONTENT_FIELDS = ("created_at", "actor_name", "via", "action", "target_type", "target_id", "target_repr", "before", "after",
                  "message", "request_id", "client_request_id")


def seal(limit: int | None = None, *, wait: bool = False) -> int:
    """Link committed, unsealed events into the chain; returns how many. Skips (0) when another sealer runs, unless ``wait``."""
    from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSeal

    sealed = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if wait:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK])
                else:
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK])
                    if not cursor.fetchone()[0]:
                        return 0
        last = AuditSeal.objects.order_by("-seq").first()
        checkpoint = AuditCheckpoint.objects.order_by("-through_seq").first()
        prev = last.chain_hash if last else (checkpoint.chain_hash if checkpoint else GENESIS)
        seq = last.seq if last else (checkpoint.through_seq if checkpoint else 0)
        # Recent ids only (an event's transaction commits within SEAL_WINDOW of writing it); the
        # anti-join runs in the database on the seal's unique index.
        floor = max(0, (last.event_id if last else 0) - 200_000)
        unsealed = AuditEvent.objects.filter(pk__gt=floor).exclude(
            Exists(AuditSeal.objects.filter(event_id=OuterRef("pk")))).order_by("pk").values_list("pk", "content_hash")
        if limit:
            unsealed = unsealed[:limit]
        now = timezone.now()
        rows = []
        for pk, digest in unsealed.iterator(chunk_size=BATCH):
            seq += 1
            chained = link(prev, digest)
            rows.append(AuditSeal(seq=seq, event_id=pk, content_hash=digest, prev_hash=prev, chain_hash=chained, sealed_at=now))
            prev = chained
        AuditSeal.objects.bulk_create(rows, batch_size=BATCH)
        sealed = len(rows)
    return sealed


@dataclass
class Finding:
    ok: bool
    checked: int
    problem: str = ""


def _walk(seals: Iterable[tuple], events: dict, start_hash: str, unsealed: Iterable[tuple]) -> Finding:
    """seals: (seq, event_id, content_hash, prev_hash, chain_hash) in seq order; events: id -> (content hash recomputed, created_at)."""
    prev, checked, newest = start_hash, 0, None
    for seq, event_id, digest, prev_hash, chain_hash in seals:
        if prev_hash != prev or chain_hash != link(prev_hash, digest):
            return Finding(False, checked, f"seal {seq} (event {event_id}) does not link to the chain before it: the chain was altered")
        event = events.get(event_id)
        if event is None:
            return Finding(False, checked, f"event {event_id} (seal {seq}) was deleted")
        recomputed, created = event
        if recomputed != digest:
            return Finding(False, checked, f"event {event_id} (seal {seq}) was edited: its content no longer matches its hash")
        if newest is not None and created < newest - SEAL_WINDOW:
            return Finding(False, checked, f"event {event_id} (seal {seq}) was inserted: created {created.isoformat()}, "
                                           f"sealed after an event created {newest.isoformat()}")
        newest = created if newest is None or created > newest else newest
        prev = chain_hash
        checked += 1
    for event_id, created in unsealed:
        return Finding(False, checked, f"event {event_id} was inserted: created {created.isoformat()} and never sealed")
    return Finding(True, checked)


def _database_walk(start_hash: str) -> Iterable[tuple]:
    """Seals in ``seq`` order, fetching their events a chunk at a time (memory stays flat at millions of rows)."""
    from apps.audit.models import AuditEvent, AuditSeal

    last_seq = -1
    while True:
        chunk = list(AuditSeal.objects.filter(seq__gt=last_seq).order_by("seq")
                     .values_list("seq", "event_id", "content_hash", "prev_hash", "chain_hash")[:BATCH])
        if not chunk:
            return
        rows = {row["pk"]: row for row in AuditEvent.objects.filter(pk__in=[c[1] for c in chunk]).values("pk", *CONTENT_FIELDS)}
        for seal_row in chunk:
            event = rows.get(seal_row[1])
            yield seal_row, (content_hash(event), event["created_at"]) if event else None
        last_seq = chunk[-1][0]


def verify() -> Finding:
    """Verify the chain in the database (seal first: ``manage.py audit_verify`` does)."""
    from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSeal

    checkpoint = AuditCheckpoint.objects.order_by("-through_seq").first()
    start_hash = checkpoint.chain_hash if checkpoint else GENESIS
    events: dict[int, tuple[str, datetime]] = {}

    def seals():
        for seal_row, event in _database_walk(start_hash):
            events.clear()  # only the current seal's event is needed at a time
            if event is not None:
                events[seal_row[1]] = event
            yield seal_row

    cutoff = timezone.now() - SEAL_WINDOW
    unsealed = ((pk, created) for pk, created in AuditEvent.objects.filter(created_at__lt=cutoff)
                .exclude(pk__in=AuditSeal.objects.values("event_id")).values_list("pk", "created_at")[:1])
    return _walk(seals(), _LiveEvents(events), start_hash, unsealed)


class _LiveEvents(dict):
    """The one event the walk is looking at (filled by the generator just before it is read)."""

    def __init__(self, current: dict):
        super().__init__()
        self.current = current

    def get(self, key, default=None):
        return self.current.get(key, default)


def verify_export(lines: Iterable[str]) -> Finding:
    """Verify a JSON-lines export (``GET /api/v1/audit-events/export/?format=jsonl`` of everything, oldest first)."""
    seals, events, start_hash = [], {}, None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("checkpoint"):
            start_hash = row["checkpoint"]["chain_hash"]
            continue
        created = datetime.fromisoformat(row["created_at"])
        events[row["id"]] = (content_hash({**row, "created_at": created}), created)
        if row.get("seal") is None:
            return Finding(False, len(seals), f"event {row['id']} (line {number}) has no seal in the export")
        seal_row = row["seal"]
        seals.append((seal_row["seq"], row["id"], seal_row["content_hash"], seal_row["prev_hash"], seal_row["chain_hash"]))
    seals.sort()
    return _walk(seals, events, start_hash or GENESIS, [])
