"""REST API for the request workflow: namespace requests, and the base every request kind uses.

``RequestWorkflowViewSet`` gives one request kind its list, retrieve,
``/approve/``, ``/reject/`` and ``/cancel/`` endpoints; ``idempotent_submit``
gives its create the ``Idempotency-Key`` behaviour. The onboarding API's
membership requests subclass/call them, so both kinds behave the same.

Views hold no rules: visibility comes from ``apps.approvals.selectors``, the
decision rules (managers only, four-eyes, decide once) from
``apps.approvals.services``, whose errors ``apps.core.api.exception_handler``
maps to 400/403/404/409.
"""

from __future__ import annotations

from collections.abc import Callable

import django_filters
from django.conf import settings
from django.db import connection, transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.approvals.api.serializers import (
    DecisionInputSerializer,
    NamespaceRequestCreateInputSerializer,
    NamespaceRequestSerializer,
    RequestSerializer,
)
from apps.approvals.models import Request
from apps.approvals.selectors import request_get_for_user, requests_visible_to
from apps.approvals.services import namespace_request_submit, request_approve, request_cancel, request_reject
from apps.core.api.errors import error_responses
from apps.core.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotency_key_from
from apps.core.api.serializers import EmptyInputSerializer
from apps.core.errors import IdempotencyKeyReused
from apps.namespaces.api.views import KUBERNETES_OBJECT_SCHEMA, YAMLStreamRenderer
from apps.namespaces.selectors import bundle_for_request

# --- filters ----------------------------------------------------------------------


class RequestFilterSet(django_filters.FilterSet):
    """Filters of a request list: ``?state=submitted&team=payments&cluster=prod-eu``.

    Team and cluster are given by slug/name like everywhere else in the API.
    Filtering only narrows the user's visible requests, so naming another
    team's slug yields an empty list, never its requests.
    """

    state = django_filters.MultipleChoiceFilter(choices=Request.State.choices,
                                                help_text="Request state; repeat to match any of several")
    team = django_filters.CharFilter(field_name="team__slug", help_text="Team slug")
    cluster = django_filters.CharFilter(field_name="cluster__name", help_text="Cluster name")
    requester = django_filters.CharFilter(field_name="requester__username", help_text="Username of the requester")

    class Meta:
        model = Request
        fields = ["state", "team", "cluster", "requester"]


# --- idempotency ------------------------------------------------------------------


def _lock_idempotency_key(user, key: str) -> None:
    """Serialise concurrent submits that carry the same key (until the transaction ends).

    The unique constraint already guarantees a single row; the lock makes the
    *loser* of a race wait for the winner's commit, find its row and answer
    200 with it, exactly like a replay that came later. Other databases (the
    SQLite demo) serialise writers anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"portal-request-idem:{user.pk}:{key}"])


def first_difference(existing: Request, kind: str, fields: list[tuple[str, object, object]]) -> str | None:
    """The first body field in which this submit differs from ``existing`` (``"kind"`` for another kind), or None.

    ``fields`` is ``(name, value sent now, value the earlier request was made with)``, in the
    order of the request body, each pair already normalised the way the service stores it.
    """
    if existing.kind != kind:
        return "kind"
    return next((name for name, now, before in fields if now != before), None)


def idempotent_submit(*, request, key: str, difference: Callable[[Request], str | None],
                      submit: Callable[[], Request]) -> tuple[Request, bool]:
    """Call ``submit()`` at most once per (user, ``Idempotency-Key``); returns ``(request, created)``.

    Without a key, ``submit()`` simply runs. With one, an earlier request made
    with the same key is returned instead (``created`` False) when the body is
    the same; when ``difference`` names a field that differs, the answer is
    ``IdempotencyKeyReused`` (422) naming it. ``submit`` must pass
    ``idempotency_key=key`` on to the service, whose unique constraint is the
    last line of defence.
    """
    if not key:
        return submit(), True
    with transaction.atomic():
        _lock_idempotency_key(request.user, key)
        # Any kind: a key is unique per requester across all request kinds.
        existing = requests_visible_to(request.user).filter(requester=request.user, idempotency_key=key).first()
        if existing is not None:
            field = difference(existing)
            if field is not None:
                what = "another kind of request" if field == "kind" else f"a request with a different `{field}`"
                raise IdempotencyKeyReused(f"this Idempotency-Key was already used for request #{existing.pk}, "
                                           f"{what}; use a new key for a new request", field=field)
            return existing, False
        return submit(), True


# --- the workflow base ---------------------------------------------------------


class RequestWorkflowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List/retrieve/approve/reject/cancel for one request ``kind``.

    Subclasses set ``kind`` and ``output_serializer_class`` (a
    ``RequestSerializer`` subclass) and add ``create``. Outsiders get 404 for
    every object (the selector decides); deciding when not allowed is a 403
    whose ``detail`` says why; deciding a decided request is a 409.
    """

    kind: str = ""
    output_serializer_class: type[RequestSerializer] = RequestSerializer
    # For the schema and the filter backend's model; rows come from get_queryset().
    queryset = Request.objects.none()
    filterset_class = RequestFilterSet
    parser_classes = [JSONParser]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return requests_visible_to(self.request.user).filter(kind=self.kind)

    def get_object(self) -> Request:
        obj = request_get_for_user(self.request.user, self.kwargs["pk"])
        if obj.kind != self.kind:
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

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        obj = self.get_object()  # 404 before looking at the body: outsiders learn nothing
        data = self._input(DecisionInputSerializer)
        return self.respond(request_approve(actor=request.user, request=obj, reason=data["reason"]))

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


def workflow_schema(*, noun: str, output, create_input=None, tag: str):
    """``@extend_schema_view`` for a ``RequestWorkflowViewSet`` subclass (shared with onboarding)."""
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
    if create_input is not None:
        schemas["create"] = extend_schema(
            summary=f"Submit a {noun}", tags=[tag], parameters=[IDEMPOTENCY_KEY_PARAMETER], request=create_input,
            responses={201: OpenApiResponse(output, description="Created"),
                       200: OpenApiResponse(output, description="Replay: the request created earlier with this Idempotency-Key"),
                       **error_responses(400, 401, 403, 422)},
        )
    return extend_schema_view(**schemas)


# --- namespace requests -------------------------------------------------------------


@workflow_schema(noun="namespace request", output=NamespaceRequestSerializer,
                 create_input=NamespaceRequestCreateInputSerializer, tag="namespace-requests")
class NamespaceRequestViewSet(RequestWorkflowViewSet):
    """``/api/v1/namespace-requests/``: ask for a namespace, follow it, decide it."""

    kind = Request.Kind.NAMESPACE
    output_serializer_class = NamespaceRequestSerializer

    def get_serializer_class(self):
        if self.action == "create":
            return NamespaceRequestCreateInputSerializer
        return super().get_serializer_class()

    def create(self, request):
        key = idempotency_key_from(request)
        data = self._input(NamespaceRequestCreateInputSerializer)

        def difference(existing: Request) -> str | None:
            payload = existing.payload or {}
            quota = data["quota"] or settings.DEFAULT_NAMESPACE_QUOTA
            return first_difference(existing, Request.Kind.NAMESPACE, [
                ("cluster", data["cluster"].pk, existing.cluster_id),
                ("team", data["team"].pk, existing.team_id),
                ("name", data["name"], existing.name),
                ("purpose", data["purpose"], payload.get("purpose", "")),
                ("quota", {k: str(v).strip() for k, v in quota.items()}, payload.get("quota")),
                ("ttl_hours", data["ttl_hours"], payload.get("ttl_hours")),
                ("pod_security_level", data["pod_security_level"] or data["cluster"].default_pod_security,
                 payload.get("pod_security_level")),
            ])

        def submit() -> Request:
            return namespace_request_submit(
                actor=request.user, team=data["team"], cluster=data["cluster"], name=data["name"],
                purpose=data["purpose"], quota=data["quota"], ttl_hours=data["ttl_hours"],
                pod_security_level=data["pod_security_level"], idempotency_key=key,
            )

        obj, created = idempotent_submit(request=request, key=key, difference=difference, submit=submit)
        location = request.build_absolute_uri(reverse("namespace-request-detail", kwargs={"pk": obj.pk}))
        return self.respond(obj, status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers={"Location": location})

    @extend_schema(
        summary="Preview the bundle of a namespace request", tags=["namespace-requests"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Id of the namespace request")],
        description="The Kubernetes objects approving this request would apply (before approval, rendered from the "
                    "request; after, those of the namespace it created). `Accept: application/yaml` for a YAML stream.",
        responses={(200, "application/json"): {"type": "array", "items": KUBERNETES_OBJECT_SCHEMA},
                   (200, "application/yaml"): {"type": "string", "description": "YAML stream, documents separated by ---"},
                   **error_responses(401, 404)},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, YAMLStreamRenderer])
    def manifests(self, request, pk=None):
        return Response(bundle_for_request(self.get_object()))
