"""``GET /api/v1/clusters/``: the clusters a namespace can be requested on."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from apps.clusters.api.serializers import ClusterSerializer
from apps.clusters.models import Cluster
from apps.core.api.errors import error_responses


@extend_schema_view(
    list=extend_schema(summary="List clusters", tags=["clusters"],
                       description="Every cluster the portal manages, with health and defaults. "
                                   "Credentials and CA bundles are never exposed.",
                       responses={200: ClusterSerializer(many=True), **error_responses(401)}),
)
class ClusterViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ClusterSerializer
    queryset = Cluster.objects.none()  # schema only

    def get_queryset(self):
        # Every signed-in user may see the catalogue of clusters (they need it
        # to pick one when requesting); ``only`` keeps the encrypted
        # credentials out of the query, not just out of the JSON.
        return Cluster.objects.only(
            "pk", "name", "api_server_url", "labels", "health", "health_checked_at", "server_version", "default_pod_security",
        ).order_by("name")
