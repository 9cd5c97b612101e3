"""``python manage.py audit_purge --before YYYY-MM-DD``: the one way to remove audit events (retention).

Removes the sealed events created before the date, and their seals, up to
the first event that is newer (the chain is cut at one point, never in
the middle), and records an ``AuditCheckpoint`` holding the chain hash at
that point: ``audit_verify`` then starts from it.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.audit import chain
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSeal


class Command(BaseCommand):
    help = "Purge audit events older than a date, recording a checkpoint the verifier accepts."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM-DD (UTC): events created before it are removed")

    def handle(self, *args, before, **options):
        try:
            cutoff = datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise CommandError(f'--before must be a date like 2026-01-31, not "{before}"') from None
        chain.seal(wait=True)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [chain.SEAL_LOCK])
                    cursor.execute("SET LOCAL portal.audit_purge = 'on'")
            created = dict(AuditEvent.objects.filter(pk__in=AuditSeal.objects.values("event_id")).values_list("pk", "created_at"))
            last = None
            for seal_row in AuditSeal.objects.order_by("seq").only("seq", "event_id", "chain_hash").iterator(chunk_size=5000):
                if created.get(seal_row.event_id) is None or created[seal_row.event_id] >= cutoff:
                    break
                last = seal_row
            if last is None:
                self.stdout.write("nothing to purge")
                return
            removed = AuditEvent.objects.filter(pk__in=AuditSeal.objects.filter(seq__lte=last.seq).values("event_id")).delete()[0]
            AuditSeal.objects.filter(seq__lte=last.seq).delete()
            AuditCheckpoint.objects.create(through_seq=last.seq, chain_hash=last.chain_hash, removed_events=removed, before=cutoff,
                                           actor_name="audit_purge")
        self.stdout.write(f"purged {removed} events (chain up to seal {last.seq}); checkpoint recorded")
