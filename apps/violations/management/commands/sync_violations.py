"""``python manage.py sync_violations [--cluster NAME]``: ingest policy violations now (what the beat task does)."""

from django.core.management.base import BaseCommand, CommandError

from apps.clusters.models import Cluster
from apps.violations.ingest import ingest_cluster


class Command(BaseCommand):
    help = "Read Gatekeeper constraints and wg-policy reports from the clusters and update the stored violations."

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
            result = ingest_cluster(target)
            if result.ok:
                self.stdout.write(f"{target.name}: {result.created} new, {result.resolved} resolved, "
                                  f"{result.constraints_changed} constraints changed")
            else:
                failed += 1
                self.stderr.write(f"{target.name}: could not read the cluster: {result.error}")
        if failed:
            raise CommandError(f"{failed} cluster(s) could not be read; their violations are kept and shown as stale")
