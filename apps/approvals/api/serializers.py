"""Serializers of the request workflow API: the fields every request kind shows, namespace requests, decisions.

Types only (strict fields from ``apps.core.api.serializers``); the rules live
in the services.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.approvals.models import Request
from apps.clusters.models import PodSecurityLevel
from apps.core.api.serializers import QuotaField, StrictCharField, StrictInputSerializer, StrictIntegerField
from apps.teams.fields import TeamSlugField

# --- output ---------------------------------------------------------------------


class RequestSerializer(serializers.Serializer):
    """Fields every request kind shows (output only)."""

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


class NamespaceRequestSerializer(RequestSerializer):
    """A namespace request as the API shows it."""

    cluster = serializers.CharField(source="cluster.name", read_only=True, help_text="Cluster name")
    name = serializers.CharField(read_only=True)
    purpose = serializers.SerializerMethodField()
    quota = serializers.SerializerMethodField()
    ttl_hours = serializers.SerializerMethodField()
    pod_security_level = serializers.SerializerMethodField()
    namespace = serializers.IntegerField(source="namespace_id", read_only=True, allow_null=True,
                                         help_text="Id of the namespace created on approval (see /api/v1/namespaces/{id}/)")

    # The kind-specific fields live in the request's JSON payload.
    def get_purpose(self, obj) -> str:
        return obj.payload.get("purpose", "")

    @extend_schema_field(QuotaField)
    def get_quota(self, obj) -> dict:
        return obj.payload.get("quota", {})

    def get_ttl_hours(self, obj) -> int | None:
        return obj.payload.get("ttl_hours")

    @extend_schema_field(serializers.ChoiceField(choices=PodSecurityLevel.choices))
    def get_pod_security_level(self, obj) -> str:
        return obj.payload.get("pod_security_level", "")


# --- input ----------------------------------------------------------------------


class NamespaceRequestCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/namespace-requests/``.

    Types only; the namespace rules (DNS-1123 name, reserved names, unique per
    cluster, quota bounds, TTL bounds) are applied by
    ``namespace_request_validate`` inside the submit service.
    """

    # No max_length here: the service's messages are the ones clients should see
    # (Django's DATA_UPLOAD_MAX_MEMORY_SIZE already bounds the body).
    cluster = StrictCharField(help_text="Cluster name (see GET /api/v1/clusters/)")
    team = TeamSlugField(queryset_for=lambda user: _teams_visible_to(user), help_text="Slug of one of your teams")
    name = StrictCharField(help_text="Namespace name: a DNS-1123 label of at most 63 characters, not default or kube-*")
    purpose = StrictCharField(required=False, allow_blank=True, default="", help_text="At most 200 characters")
    quota = QuotaField(required=False, default=None, allow_null=True,
                       help_text="Omit for the default quota")
    ttl_hours = StrictIntegerField(required=False, allow_null=True, default=None,
                                   help_text="Delete the namespace this many hours after approval")
    pod_security_level = serializers.ChoiceField(choices=PodSecurityLevel.choices, required=False, allow_null=True,
                                                 default=None, help_text="Defaults to the cluster's level")

    def validate_cluster(self, value):
        from apps.clusters.models import Cluster

        cluster = Cluster.objects.filter(name=value).first()
        if cluster is None:
            raise serializers.ValidationError(f'no cluster named "{value[:63]}"')
        return cluster


def _teams_visible_to(user):
    # Imported lazily: selectors import models of several apps.
    from apps.teams.selectors import teams_visible_to

    return teams_visible_to(user)


class DecisionInputSerializer(StrictInputSerializer):
    """Body of ``/approve/`` and ``/reject/``."""

    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000,
                             help_text="Shown to the requester and kept in the audit log")
