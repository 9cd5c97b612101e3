"""The request workflow as a REST building block: each request kind's API subclasses it.

``RequestWorkflowViewSet`` gives one kind its list, retrieve, ``/approve/``,
``/reject/`` and ``/cancel/`` endpoints and the answer to its create;
``RequestSerializer`` the fields every kind shows; ``workflow_schema`` the
OpenAPI description. The namespaces API (namespace requests) and the
onboarding API (membership requests) build on them, so every kind behaves
and documents itself the same.

The kinds' endpoints live with the apps that own the kinds, and no app
imports another app's ``api``; approvals' own ``api`` package serves the
workflow across kinds (``/api/v1/requests/``).

Views hold no rules: visibility comes from ``apps.approvals.selectors``, the
decision rules (managers only, four-eyes, decide once) from
``apps.approvals.services``, whose errors
``apps.core.api.errors.exception_handler`` maps to 400/403/404/409/422.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from apps.approvals.filters import RequestFilterSet
from apps.approvals.models import Request
from apps.approvals.selectors import request_get_for_user, requests_visible_to
from apps.approvals.services import request_approve, request_cancel, request_reject
from apps.core.api.errors import error_responses
from apps.core.api.idempotency import IDEMPOTENCY_KEY_PARAMETER
from apps.core.api.serializers import EmptyInputSerializer, StrictCharField, StrictInputSerializer


class RequestSerializer(serializers.Serializer):
    """Fields every request kind shows (output only); a kind's serializer adds its own."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Request.Kind.choices, read_only=True)
    state = serializers.ChoiceField(choices=Request.State.choices, read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, help_text="Team slug")
    requester = serializers.CharField(source="requester.username", read_only=True)
    decider = serializers.CharField(source="decider.username", read_only=True, allow_null=True,
                                    help_text="Who approved or rejected it; null while undecided")
    reason = serializers.CharField(read_only=True, help_text="Why it was approved or rejected")
    last_error = serializers.CharField(read_only=True, help_text="Why applying the approved request failed, if it did")
    created_at = serializers.DateTimeField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)


class DecisionInputSerializer(StrictInputSerializer):
    """Body of ``/approve/`` and ``/reject/``."""

    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000,
                             help_text="Shown to the requester and kept in the audit log")
    override_reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000,
                                      help_text="Approve only: required when the cluster's preflight denies what approving "
                                                "applies (see /api/v1/requests/{id}/preflight/); audited")


class RequestWorkflowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List/retrieve/approve/reject/cancel for one request ``kind``.

    Subclasses set ``kind`` and ``output_serializer_class`` (a
    ``RequestSerializer`` subclass) and add ``create``, which calls the kind's
    submit service and answers with ``respond_submitted``. Outsiders get 404
    for every object (the selector decides); deciding when not allowed is a
    403 whose ``detail`` says why; deciding a decided request is a 409.
    """

    kind: str = ""  # "" : every kind (``/api/v1/requests/``)
    output_serializer_class: type[RequestSerializer] = RequestSerializer
    # For the schema and the filter backend's model; rows come from get_queryset().
    queryset = Request.objects.none()
    filterset_class = RequestFilterSet
    parser_classes = [JSONParser]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        visible = requests_visible_to(self.request.user)
        return visible.filter(kind=self.kind) if self.kind else visible

    def get_object(self) -> Request:
        obj = request_get_for_user(self.request.user, self.kwargs["pk"])
        if self.kind and obj.kind != self.kind:
            raise Http404("No such request")
        return obj

    def get_serializer_class(self):
        if self.action in ("approve", "reject"):
            return DecisionInputSerializer
        if self.action == "cancel":
            return EmptyInputSerializer
        return self.output_serializer_class

    def respond(self, obj: Request, status_code: int = status.HTTP_200_OK, headers: dict | None = None) -> Response:
        """The output representation of ``obj``, re-read through the selector so it is complete."""
        fresh = requests_visible_to(self.request.user).filter(pk=obj.pk).first() or obj
        return Response(self.output_serializer_class(fresh, context=self.get_serializer_context()).data,
                        status=status_code, headers=headers)

    def respond_submitted(self, obj: Request) -> Response:
        """201 with its Location; 200 when it is the request an earlier submit with the same Idempotency-Key made."""
        location = self.request.build_absolute_uri(reverse(f"{self.basename}-detail", kwargs={"pk": obj.pk}))
        return self.respond(obj, status.HTTP_200_OK if obj.replayed else status.HTTP_201_CREATED, headers={"Location": location})

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        obj = self.get_object()  # 404 before looking at the body: outsiders learn nothing
        data = self._input(DecisionInputSerializer)
        return self.respond(request_approve(actor=request.user, request=obj, reason=data["reason"],
                                            override_reason=data["override_reason"]))

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        obj = self.get_object()
        data = self._input(DecisionInputSerializer)
        return self.respond(request_reject(actor=request.user, request=obj, reason=data["reason"]))

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        obj = self.get_object()
        self._input(EmptyInputSerializer)
        return self.respond(request_cancel(actor=request.user, request=obj))


def workflow_schema(*, noun: str, output, create_input=None, tag: str, cancel: bool = True):
    """``@extend_schema_view`` for a ``RequestWorkflowViewSet`` subclass (``cancel=False``: it has no ``/cancel/``)."""
    id_param = OpenApiParameter("id", int, OpenApiParameter.PATH, description=f"Id of the {noun}")
    decision_errors = error_responses(400, 401, 403, 404, 409)
    schemas = {
        "list": extend_schema(summary=f"List {noun}s you can see", tags=[tag],
                              description="Your own requests and your teams'; platform admins and auditors see all.",
                              responses={200: output(many=True), **error_responses(400, 401)}),
        "retrieve": extend_schema(summary=f"Get one {noun}", tags=[tag], parameters=[id_param],
                                  responses={200: output, **error_responses(401, 404)}),
        "approve": extend_schema(summary=f"Approve a {noun}", tags=[tag], parameters=[id_param],
                                 description="Team managers and platform admins only, never the requester (four-eyes). "
                                             "403 says why you may not; 409 if it is already decided.",
                                 request=DecisionInputSerializer,
                                 responses={200: OpenApiResponse(output, description="The approved request"), **decision_errors}),
        "reject": extend_schema(summary=f"Reject a {noun}", tags=[tag], parameters=[id_param],
                                description="Same rules as approve; the reason is shown to the requester.",
                                request=DecisionInputSerializer,
                                responses={200: OpenApiResponse(output, description="The rejected request"), **decision_errors}),
        "cancel": extend_schema(summary=f"Cancel your own {noun}", tags=[tag], parameters=[id_param],
                                description="Only the requester, only while it waits for a decision.",
                                request=EmptyInputSerializer,
                                responses={200: OpenApiResponse(output, description="The cancelled request"), **decision_errors}),
    }
    if not cancel:
        del schemas["cancel"]
    if create_input is not None:
        schemas["create"] = extend_schema(
            summary=f"Submit a {noun}", tags=[tag], parameters=[IDEMPOTENCY_KEY_PARAMETER], request=create_input,
            responses={201: OpenApiResponse(output, description="Created"),
                       200: OpenApiResponse(output, description="Replay: the request created earlier with this Idempotency-Key"),
                       **error_responses(400, 401, 403, 422)},
        )
    return extend_schema_view(**schemas)
