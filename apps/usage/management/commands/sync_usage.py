"""``python manage.py sync_usage [--cluster NAME]``: read quota usage now (what the beat task does)."""

from django.core.management.base import BaseCommand, CommandError

from apps.clusters.models import Cluster
from apps.usage.services import sync_cluster


class Command(BaseCommand):
    help = "Read status.used of every portal-managed ResourceQuota (one list per cluster) and record it."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="Only this cluster (name)")

    def handle(self, *args, cluster=None, **options):
        clusters = Cluster.objects.order_by("name")
        if cluster:
            clusters = clusters.filter(name=cluster)
            if not clusters.exists():
                raise CommandError(f'no cluster named "{cluster}"; registered: {", ".join(Cluster.objects.values_list("name", flat=True)) or "none"}')
        failed = 0
        for target in clusters:
            result = sync_cluster(target)
            if result.ok:
                self.stdout.write(f"{target.name}: {result.quotas} quotas in {result.list_calls} list call(s)")
            else:
                failed += 1
                self.stderr.write(f"{target.name}: could not read the cluster: {result.error} (its figures are kept, shown as stale)")
        if failed:
            raise CommandError(f"{failed} cluster(s) could not be read")
