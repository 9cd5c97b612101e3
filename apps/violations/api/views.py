"""``GET /api/v1/violations/``: keyset-paginated, filtered; members see their teams' violations, admins and auditors all."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from apps.core.api.errors import error_responses
from apps.core.api.pagination import StrictCursorPagination
from apps.violations.filters import ViolationFilterSet
from apps.violations.models import Violation
from apps.violations.selectors import violations_visible_to


class ViolationSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, allow_null=True, default=None)
    namespace = serializers.IntegerField(source="namespace_id", read_only=True, allow_null=True,
                                         help_text="The portal's namespace id, when the object is in one it manages")
    state = serializers.SerializerMethodField()

    class Meta:
        model = Violation
        fields = ["id", "cluster", "team", "namespace", "source", "policy", "rule", "action", "severity", "category",
                  "message", "object_kind", "object_namespace", "object_name", "first_seen", "resolved_at", "state"]
        read_only_fields = fields

    def get_state(self, obj) -> str:
        return "open" if obj.resolved_at is None else "resolved"


class NewestFirst(StrictCursorPagination):
    """Keyset pagination on the id: the first page costs the same at a million rows; ``next`` carries the cursor."""

    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List policy violations", tags=["violations"],
                       description="From Gatekeeper constraints' audit and wg-policy reports, as last ingested. Team members "
                                   "see their teams' violations (in namespaces the portal manages); platform admins and "
                                   "auditors see all. Newest first, keyset-paginated (`next`/`previous` links).",
                       responses={200: ViolationSerializer(many=True), **error_responses(400, 401)}),
)
class ViolationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ViolationSerializer
    queryset = Violation.objects.none()  # schema and filter model; rows come from the selector
    filterset_class = ViolationFilterSet
    pagination_class = NewestFirst

    def get_queryset(self):
        return violations_visible_to(self.request.user)
