"""Usage API: ``GET /api/v1/namespaces/{id}/usage/``, ``GET /api/v1/teams/{slug}/usage/``, ``GET /api/v1/clusters/{name}/usage/``.

Figures are numbers in base units (cores, bytes, counts). Visibility comes
from the owning apps' selectors (404 for outsiders); the cluster figures are
for platform admins and auditors.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clusters.models import Cluster
from apps.core.api.errors import error_responses
from apps.namespaces.selectors import namespace_get_for_user
from apps.teams.selectors import team_get_for_user
from apps.usage.selectors import WINDOWS, cluster_staleness, cluster_usage, namespace_history, team_usage
from apps.usage.services import numbers


def _numbers(help_text: str = "Resource -> number in base units (cores, bytes, counts)") -> serializers.DictField:
    return serializers.DictField(child=serializers.FloatField(), help_text=help_text)


class PointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    used = _numbers()
    hard = _numbers()


class NamespaceUsageSerializer(serializers.Serializer):
    namespace = serializers.IntegerField()
    window = serializers.ChoiceField(choices=list(WINDOWS))
    hard = _numbers()
    used = _numbers()
    observed_at = serializers.DateTimeField(allow_null=True)
    stale_since = serializers.DateTimeField(allow_null=True, help_text="Set while the cluster cannot be read: the figures are as of observed_at")
    history = PointSerializer(many=True)


class TeamClusterUsageSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    namespaces = serializers.IntegerField()
    hard = _numbers()
    used = _numbers()
    budget = _numbers()
    synced_at = serializers.DateTimeField(allow_null=True)
    stale_since = serializers.DateTimeField(allow_null=True)
    history = PointSerializer(many=True)


class ClusterUsageSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    allocated = _numbers()
    used = _numbers()
    capacity = _numbers()
    top_teams = serializers.ListField(child=serializers.DictField())
    synced_at = serializers.DateTimeField(allow_null=True)
    stale_since = serializers.DateTimeField(allow_null=True)


class NamespaceUsageView(APIView):
    @extend_schema(summary="A namespace's quota usage, now and over time", tags=["usage"],
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH),
                               OpenApiParameter("window", str, enum=list(WINDOWS), description="History window (default 24h)")],
                   responses={200: NamespaceUsageSerializer, **error_responses(400, 401, 404)})
    def get(self, request, pk: int):
        namespace = namespace_get_for_user(request.user, pk)
        window = request.query_params.get("window", "24h")
        if window not in WINDOWS:
            raise ValidationError({"window": [f"must be one of {', '.join(WINDOWS)}"]})
        state = cluster_staleness([namespace.cluster_id]).get(namespace.cluster_id)
        data = {"namespace": namespace.pk, "window": window, "hard": numbers(namespace.quota), "used": numbers(namespace.quota_used),
                "observed_at": namespace.quota_observed_at, "stale_since": state.failing_since if state else None,
                "history": namespace_history(namespace, window)}
        return Response(NamespaceUsageSerializer(data).data)


class TeamUsageView(APIView):
    @extend_schema(summary="A team's quota and usage per cluster, against its budget", tags=["usage"],
                   parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)],
                   responses={200: TeamClusterUsageSerializer(many=True), **error_responses(401, 404)})
    def get(self, request, slug: str):
        team = team_get_for_user(request.user, slug)
        return Response(TeamClusterUsageSerializer(team_usage(team), many=True).data)


class ClusterUsageView(APIView):
    @extend_schema(summary="A cluster's allocation and usage against its capacity (platform admins and auditors)", tags=["usage"],
                   parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH)],
                   responses={200: ClusterUsageSerializer, **error_responses(401, 404)})
    def get(self, request, name: str):
        if not request.user.can_audit:
            raise Http404("No such cluster")  # like the clusters pages: others learn nothing
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise Http404("No such cluster")
        return Response(ClusterUsageSerializer(cluster_usage(cluster)).data)
