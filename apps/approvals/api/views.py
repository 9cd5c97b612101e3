"""``/api/v1/requests/``: every request the caller may see, of every kind, with its timeline; decide any kind.

The kind-specific endpoints (``/api/v1/namespace-requests/``,
``/api/v1/membership-requests/``, ``/api/v1/quota-requests/``) keep their
own fields and submit; this one is the workflow's view across kinds, for
clients (an approval bot, the CLI) that decide whatever is waiting.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.approvals.selectors import request_timeline
from apps.approvals.viewsets import RequestSerializer, RequestWorkflowViewSet, workflow_schema


class TimelineStepSerializer(serializers.Serializer):
    title = serializers.CharField()
    tone = serializers.ChoiceField(choices=["ok", "wait", "busy", "bad", "muted"])
    when = serializers.DateTimeField(allow_null=True)
    detail = serializers.CharField()
    error = serializers.CharField()


class AnyRequestSerializer(RequestSerializer):
    """A request of any kind: the common fields, its kind's ``payload`` as stored, and (one request) its timeline."""

    cluster = serializers.CharField(source="cluster.name", read_only=True, allow_null=True, default=None)
    name = serializers.CharField(read_only=True)
    namespace = serializers.IntegerField(source="namespace_id", read_only=True, allow_null=True)
    payload = serializers.DictField(read_only=True, help_text="The kind's fields (see the kind's own endpoint)")
    decided_by_rule = serializers.CharField(read_only=True, help_text="The auto-approval rule that approved it, if one did")
    timeline = serializers.SerializerMethodField()

    @extend_schema_field(TimelineStepSerializer(many=True, allow_null=True))
    def get_timeline(self, obj) -> list | None:
        # Only for one request: the list stays one query per page.
        if not self.context.get("with_timeline"):
            return None
        return TimelineStepSerializer(request_timeline(obj), many=True).data


@workflow_schema(noun="request (any kind)", output=AnyRequestSerializer, tag="requests", cancel=False)
class RequestViewSet(RequestWorkflowViewSet):
    """``/api/v1/requests/`` (filters ``kind``, ``state``, ``team``, ``cluster``, ``requester``), ``/{id}/``,
    ``/{id}/approve/`` and ``/{id}/reject/``. Submitting and cancelling stay with each kind's endpoint."""

    kind = ""
    output_serializer_class = AnyRequestSerializer
    cancel = None  # the kind's endpoint cancels

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_timeline": self.action != "list"}
