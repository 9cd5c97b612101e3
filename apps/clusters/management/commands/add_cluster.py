"""``python manage.py add_cluster NAME --kubeconfig FILE [--context C]``: connect a cluster.

Registers the cluster (or updates it when NAME exists) from one context of a
kubeconfig: API server URL, CA bundle and credentials (a ServiceAccount token
or a client certificate, stored encrypted). Prints what was stored and the
cluster's health, never a secret.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.clusters.models import Cluster
from apps.clusters.services import cluster_register


class Command(BaseCommand):
    help = "Register or update a Kubernetes cluster from a kubeconfig (server, CA, token or client certificate)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the cluster's name in the portal (a slug, e.g. prod-eu)")
        parser.add_argument("--kubeconfig", required=True, help="path of the kubeconfig file")
        parser.add_argument("--context", default=None, help="context to use (default: the kubeconfig's current-context)")

    def handle(self, *args, name: str, kubeconfig: str, context: str | None, **options):
        path = Path(kubeconfig).expanduser()
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise CommandError(f"kubeconfig file not found: {path}") from None
        except OSError as exc:
            raise CommandError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
        existed = Cluster.objects.filter(name=name).exists()
        try:
            cluster = cluster_register(actor=None, name=name, kubeconfig=text, context=context, base_dir=path.parent.resolve())
        except ValidationError as exc:
            messages = [f"{field}: {msg}" if field != "__all__" else msg
                        for field, msgs in exc.message_dict.items() for msg in msgs] if hasattr(exc, "error_dict") else exc.messages
            raise CommandError("; ".join(messages)) from None
        verb = "Updated" if existed else "Registered"
        self.stdout.write(f"{verb} cluster {cluster.name}: {cluster.api_server_url} ({cluster.get_auth_kind_display()})")
        if cluster.health == Cluster.Health.HEALTHY:
            self.stdout.write(self.style.SUCCESS(f"  healthy, Kubernetes {cluster.server_version}"))
        else:
            self.stderr.write(self.style.WARNING(f"  registered, but not reachable now: {cluster.health_message}"))
