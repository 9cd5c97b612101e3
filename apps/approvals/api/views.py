"""``/api/v1/requests/``: every request the caller may see, of every kind, with its timeline; decide any kind.

The kind-specific endpoints (``/api/v1/namespace-requests/``,
``/api/v1/membership-requests/``, ``/api/v1/quota-requests/``) keep their
own fields and submit; this one is the workflow's view across kinds, for
clients (an approval bot, the CLI) that decide whatever is waiting.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.approvals.selectors import request_preflight, request_timeline
from apps.approvals.viewsets import RequestSerializer, RequestWorkflowViewSet, workflow_schema
from apps.core.api.errors import error_responses


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


class PreflightItemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["accepted", "denied", "not_checked"])
    message = serializers.CharField(help_text="The cluster's message for a denial; why it was not checked")
    warnings = serializers.ListField(child=serializers.CharField(), help_text="Admission warnings (e.g. Pod Security)")


class PreflightSerializer(serializers.Serializer):
    supported = serializers.BooleanField(help_text="false for kinds that apply nothing to a cluster (e.g. join requests)")
    denied = serializers.BooleanField(help_text="true: approving needs an override_reason")
    error = serializers.CharField(help_text="The cluster could not be asked (not a denial)")
    items = PreflightItemSerializer(many=True)


@workflow_schema(noun="request (any kind)", output=AnyRequestSerializer, tag="requests", cancel=False)
class RequestViewSet(RequestWorkflowViewSet):
    """``/api/v1/requests/`` (filters ``kind``, ``state``, ``team``, ``cluster``, ``requester``), ``/{id}/``,
    ``/{id}/approve/`` and ``/{id}/reject/``. Submitting and cancelling stay with each kind's endpoint."""

    kind = ""
    output_serializer_class = AnyRequestSerializer
    cancel = None  # the kind's endpoint cancels

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_timeline": self.action != "list"}

    @extend_schema(
        summary="Preflight a request: the cluster's admission verdict on what approving applies", tags=["requests"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Id of the request")],
        description="A server-side dry run (`dryRun=All`, the portal's field manager) of every object approving applies, "
                    "per object accepted / denied (with the cluster's message) / not_checked, plus admission warnings. "
                    "Nothing is written. An unreachable cluster is `error`, not a denial.",
        responses={200: PreflightSerializer, **error_responses(401, 404)},
    )
    @action(detail=True, methods=["get"])
    def preflight(self, request, pk=None):
        verdict = request_preflight(self.get_object())
        if verdict is None:
            return Response({"supported": False, "denied": False, "error": "", "items": []})
        items = [{"kind": i.kind, "name": i.name, "outcome": i.outcome, "message": i.message, "warnings": i.warnings}
                 for i in verdict["items"]]
        return Response({"supported": True, "denied": verdict["denied"], "error": verdict["error"], "items": items})
