from django.apps import AppConfig


class NamespacesConfig(AppConfig):
    name = "apps.namespaces"
    label = "namespaces"

    def ready(self):
        # Namespace requests are a kind of request: what approving one does and
        # what the request pages show of it (the workflow never imports us).
        from apps.approvals.kinds import RequestKind, register_request_kind
        from apps.approvals.models import Request
        from apps.namespaces import extensions, selectors, services

        register_request_kind(Request.Kind.NAMESPACE, RequestKind(
            approve=services.namespace_request_approve,
            progress=selectors.namespace_request_progress,
            budget=selectors.namespace_request_budgets,
            preview=selectors.namespace_request_preview,
            preflight=services.namespace_request_preflight,
        ))
        register_request_kind(Request.Kind.EXTENSION, RequestKind(
            approve=extensions.extension_request_approve,
            progress=extensions.extension_request_progress,
            preview=extensions.extension_request_preview,
        ))
        # A cluster reachable again: the rows waiting out a backoff for it are re-driven now.
        from apps.clusters.signals import cluster_recovered

        cluster_recovered.connect(_redrive_recovered_cluster, dispatch_uid="namespaces-redrive-recovered-cluster")


def _redrive_recovered_cluster(sender, cluster, **kwargs):
    from apps.namespaces.tasks import redrive_cluster_soon

    redrive_cluster_soon(cluster.pk)
