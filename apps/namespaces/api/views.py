"""``/api/v1/namespaces/`` (list, detail, the rendered bundle, delete, adopt) and
``/api/v1/namespace-requests/`` (ask for a namespace, follow it, decide it).

Visibility is the selectors' (outsiders get 404); deleting is the service's
decision (``namespace_delete``: who may, and what happens on the cluster);
namespace requests get the request workflow's endpoints from
``apps.approvals.viewsets`` and add their create and bundle preview.
"""

from __future__ import annotations

import json

import yaml
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.utils import encoders

from apps.approvals.models import Request
from apps.approvals.viewsets import RequestWorkflowViewSet, workflow_schema
from apps.core.api.errors import error_responses
from apps.core.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotency_key_from
from apps.namespaces.api.serializers import (
    ExtendInputSerializer,
    ExtensionRequestSerializer,
    NamespaceAdoptInputSerializer,
    NamespaceRequestCreateInputSerializer,
    NamespaceRequestSerializer,
    NamespaceSerializer,
    QuotaTierSerializer,
)
from apps.namespaces.extensions import extension_request_submit
from apps.namespaces.filters import NamespaceFilterSet
from apps.namespaces.manifests import to_yaml
from apps.namespaces.models import Namespace, QuotaTier
from apps.namespaces.selectors import bundle_for_namespace, bundle_for_request, namespace_get_for_user, namespaces_visible_to
from apps.namespaces.services import namespace_adopt, namespace_delete, namespace_request_submit


class YAMLStreamRenderer(BaseRenderer):
    """``application/yaml``: a list of Kubernetes objects as a ``---`` separated stream.

    The stream is exactly what ``kubectl apply -f -`` takes, produced by the
    same ``to_yaml`` as the preview page. Anything else rendered through it
    (an error's ``{"detail": ...}``) becomes a single YAML document, so a
    client that asked for YAML can still read the error.
    """

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        # Plain types first: DRF's ErrorDetail, lazy strings, datetimes and
        # Decimals are str/other subclasses that yaml.safe_dump refuses.
        data = json.loads(json.dumps(data, cls=encoders.JSONEncoder))
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            return to_yaml(data).encode(self.charset)
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).encode(self.charset)


# The schema of one bundle object: any Kubernetes object (apiVersion/kind/metadata + the rest).
KUBERNETES_OBJECT_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string", "example": "v1"},
        "kind": {"type": "string", "example": "ResourceQuota"},
        "metadata": {"type": "object", "additionalProperties": True},
    },
    "required": ["apiVersion", "kind", "metadata"],
    "additionalProperties": True,
}

_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Id of the namespace")


@extend_schema_view(
    list=extend_schema(summary="List namespaces you can see", tags=["namespaces"],
                       description="Namespaces of your teams (every phase, including Deleted; filter with `phase`); "
                                   "platform admins and auditors see all.",
                       responses={200: NamespaceSerializer(many=True), **error_responses(400, 401)}),
    retrieve=extend_schema(summary="Get one namespace", tags=["namespaces"], parameters=[_ID],
                           description="`phase`, `last_error` and `attempts` show how provisioning is going.",
                           responses={200: NamespaceSerializer, **error_responses(401, 404)}),
    destroy=extend_schema(summary="Delete a namespace", tags=["namespaces"], parameters=[_ID],
                          description="Marks the namespace Terminating and deletes it on the cluster in the background "
                                      "(202); `phase` becomes Deleted when the cluster is done.",
                          responses={202: OpenApiResponse(NamespaceSerializer, description="Deletion accepted"),
                                     **error_responses(401, 403, 404, 409)}),
    manifests=extend_schema(
        summary="The rendered bundle", tags=["namespaces"], parameters=[_ID],
        description="Every Kubernetes object the portal applies for this namespace, in apply order. "
                    "`Accept: application/yaml` gives a YAML stream for `kubectl apply -f -`; otherwise a JSON list.",
        responses={
            (200, "application/json"): {"type": "array", "items": KUBERNETES_OBJECT_SCHEMA},
            (200, "application/yaml"): {"type": "string", "description": "YAML stream, documents separated by ---"},
            **error_responses(401, 404),
        },
    ),
)
class NamespaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = NamespaceSerializer
    queryset = Namespace.objects.none()  # schema and filter model only; rows come from the selector
    filterset_class = NamespaceFilterSet
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return namespaces_visible_to(self.request.user)

    def get_object(self) -> Namespace:
        return namespace_get_for_user(self.request.user, self.kwargs["pk"])

    def list(self, request):
        # The page's ids are sorted and cut first (narrow rows), then only those rows are read with
        # their joins: a page costs about the same at 100 namespaces as at 10,000.
        ids = self.paginate_queryset(self.filter_queryset(self.get_queryset()).values_list("pk", flat=True))
        rows = {ns.pk: ns for ns in Namespace.objects.filter(pk__in=ids).select_related("cluster", "team", "owner")}
        return self.get_paginated_response(self.get_serializer([rows[pk] for pk in ids if pk in rows], many=True).data)

    def destroy(self, request, pk=None):
        namespace = self.get_object()
        namespace_delete(actor=request.user, namespace=namespace)
        # Re-read: the service may have changed phase/deleted_at in its own transaction.
        fresh = namespace_get_for_user(request.user, namespace.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Adopt an existing namespace (platform admins)", tags=["namespaces"],
                   request=NamespaceAdoptInputSerializer,
                   description="Hands a namespace that already exists on the cluster to a team; the portal then applies "
                               "its bundle to it. Never part of a team's request. `confirm_uid` must be the namespace's "
                               "current `metadata.uid`.",
                   responses={201: NamespaceSerializer, **error_responses(400, 401, 403)})
    @action(detail=False, methods=["post"])
    def adopt(self, request):
        if not request.user.is_platform_admin:
            raise PermissionDenied("only platform admins can adopt an existing namespace")
        body = NamespaceAdoptInputSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        namespace = namespace_adopt(actor=request.user, **body.validated_data)
        return Response(NamespaceSerializer(namespace_get_for_user(request.user, namespace.pk)).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, YAMLStreamRenderer])
    def manifests(self, request, pk=None):
        namespace = self.get_object()
        return Response(bundle_for_namespace(namespace))

    @extend_schema(summary="Ask for a namespace to live longer", tags=["namespaces"], parameters=[_ID, IDEMPOTENCY_KEY_PARAMETER],
                   request=ExtendInputSerializer,
                   description="Opens a lifetime extension request: approving it sets `expires_at` to the approval time plus "
                               "`ttl_hours`. A manager of the team decides (`POST /api/v1/requests/{id}/approve/`), or an "
                               "auto-approval rule at once (then `state` is already approved). Members and managers of the "
                               "team may ask; one open extension per namespace.",
                   responses={201: ExtensionRequestSerializer, **error_responses(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        namespace = self.get_object()
        key = idempotency_key_from(request)
        body = ExtendInputSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        created = extension_request_submit(actor=request.user, namespace=namespace, idempotency_key=key, **body.validated_data)
        # Followed and decided where every kind is: /api/v1/requests/{id}/.
        location = request.build_absolute_uri(reverse("request-detail", kwargs={"pk": created.pk}))
        return Response(ExtensionRequestSerializer(created).data, headers={"Location": location},
                        status=status.HTTP_200_OK if created.replayed else status.HTTP_201_CREATED)


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
        return self.respond_submitted(namespace_request_submit(actor=request.user, idempotency_key=key, **data))

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


@extend_schema_view(
    list=extend_schema(summary="List quota tiers", tags=["quota-tiers"],
                       description="Presets a namespace or quota change request can name as `tier` instead of quota "
                                   "values, small to large. Platform admins edit them in the Django admin.",
                       responses={200: QuotaTierSerializer(many=True), **error_responses(401)}),
)
class QuotaTierViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = QuotaTier.objects.order_by("order", "name")
    serializer_class = QuotaTierSerializer
    filterset_class = None
    pagination_class = None
