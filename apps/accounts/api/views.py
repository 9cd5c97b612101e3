"""REST API for API tokens: ``/api/v1/tokens/``.

Everyone manages their own tokens; platform admins see and revoke anyone's.
Visibility comes from the selectors, the rules from the services.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors
from apps.accounts.api.serializers import (
    ApiTokenCreateInputSerializer,
    ApiTokenIssuedSerializer,
    ApiTokenSerializer,
    MeSerializer,
)
from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_issue, api_token_revoke
from apps.core.api.errors import error_responses


@extend_schema_view(
    list=extend_schema(
        summary="List API tokens", tags=["tokens"],
        description="Your live tokens (not revoked); platform admins see everyone's and may filter with `?user=`.",
        parameters=[OpenApiParameter("user", str, description="Username (platform admins)")],
        responses={200: ApiTokenSerializer(many=True), **error_responses(401)}),
    create=extend_schema(
        summary="Issue an API token", tags=["tokens"], request=ApiTokenCreateInputSerializer,
        description="Issues a token for yourself and returns it once; only its hash is kept.",
        responses={201: ApiTokenIssuedSerializer, **error_responses(400, 401)}),
    destroy=extend_schema(
        summary="Revoke an API token", tags=["tokens"],
        description="Your own tokens; platform admins revoke anyone's. It stops working at once.",
        responses={204: None, **error_responses(401, 404)}),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """``/api/v1/tokens/``: list, issue and revoke API tokens."""

    queryset = ApiToken.objects.none()
    serializer_class = ApiTokenSerializer
    parser_classes = [JSONParser]
    filterset_fields = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.tokens_visible_to(self.request.user, owner=self.request.query_params.get("user") or None)

    def get_object(self):
        return selectors.token_get_for_user(self.request.user, self.kwargs["pk"])

    def get_serializer_class(self):
        return ApiTokenCreateInputSerializer if self.action == "create" else ApiTokenSerializer

    def create(self, request):
        serializer = ApiTokenCreateInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row, token = api_token_issue(actor=request.user, user=request.user, name=data["name"],
                                     expires_in_days=data["expires_in_days"])
        row.token = token
        response = Response(ApiTokenIssuedSerializer(row).data, status=status.HTTP_201_CREATED)
        # The body holds a credential: no cache may keep it.
        response["Cache-Control"] = "no-store"
        return response

    def perform_destroy(self, instance):
        api_token_revoke(actor=self.request.user, token=instance)


class MeView(APIView):
    """``GET /api/v1/me/``: who the token (or session) belongs to."""

    @extend_schema(summary="Who am I", tags=["tokens"], responses={200: MeSerializer, **error_responses(401)})
    def get(self, request):
        user = type(request.user).objects.prefetch_related("memberships__team").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)
