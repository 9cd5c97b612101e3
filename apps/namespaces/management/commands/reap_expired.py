"""``python manage.py reap_expired [--dry-run]``: what the hourly TTL reaper deletes (``--dry-run``: only list it)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.core.context import acting_via
from apps.namespaces import services
from apps.namespaces.selectors import expiry_grace, namespaces_expired


class Command(BaseCommand):
    help = "Start deleting expired, unprotected namespaces now (as the hourly reaper does), or list them with --dry-run."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; change nothing")

    def handle(self, *args, dry_run=False, **options):
        due = list(namespaces_expired().select_related("cluster", "team"))
        if dry_run:
            now = timezone.now()
            for ns in due:
                overdue = now - ns.expires_at - expiry_grace()
                self.stdout.write(f"{ns.cluster.name}/{ns.name} (team {ns.team.slug}): expired {ns.expires_at:%Y-%m-%d %H:%M} UTC, "
                                  f"{int(overdue.total_seconds() // 3600)} h past the grace period")
            self.stdout.write(f"{len(due)} namespace(s) would be deleted; nothing was changed")
            return
        with acting_via("system"):
            reaped = services.namespaces_reap_expired()
        self.stdout.write(f"{len(reaped)} namespace(s) are being deleted")
