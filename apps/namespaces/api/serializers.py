"""Serializers of the namespaces API: namespaces, adopting one, and namespace requests.

Types only; the rules (names, quotas, who may do what) are the services'.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.approvals.viewsets import RequestSerializer
from apps.clusters.models import Cluster, PodSecurityLevel
from apps.core.api.serializers import QuotaField, StrictCharField, StrictInputSerializer, StrictIntegerField
from apps.namespaces.models import Namespace
from apps.teams.fields import TeamSlugField
from apps.teams.models import Team
from apps.teams.selectors import teams_visible_to


def _cluster_named(name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        raise serializers.ValidationError(f'no cluster named "{name[:63]}"')
    return cluster


class NamespaceSerializer(serializers.Serializer):
    """A namespace: desired state plus what the worker last observed doing it."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    cluster = serializers.CharField(source="cluster.name", read_only=True, help_text="Cluster name")
    team = serializers.CharField(source="team.slug", read_only=True, help_text="Team slug")
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True,
                                  help_text="Who requested it")
    purpose = serializers.CharField(read_only=True)
    quota = QuotaField(read_only=True)
    quota_used = QuotaField(read_only=True, help_text="ResourceQuota status.used as last read from the cluster")
    quota_observed_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                  help_text="When quota_used was read; null if never")
    pod_security_level = serializers.ChoiceField(choices=PodSecurityLevel.choices, read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                           help_text="When the namespace is deleted automatically; null means never")
    protected = serializers.BooleanField(read_only=True)
    phase = serializers.ChoiceField(choices=Namespace.Phase.choices, read_only=True)
    last_error = serializers.CharField(read_only=True, help_text="Last reconcile error; empty once it succeeds")
    attempts = serializers.IntegerField(read_only=True, help_text="Reconcile attempts since the last success")
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                help_text="When a failed reconcile is retried")
    drift_repaired_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                  help_text="Last time the cluster differed from the bundle and was repaired")
    applied_at = serializers.DateTimeField(read_only=True, allow_null=True)
    deleted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class NamespaceAdoptInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/namespaces/adopt/`` (platform admins)."""

    cluster = StrictCharField(help_text="Cluster name")
    name = StrictCharField(help_text="Name of the namespace that exists on the cluster")
    team = StrictCharField(help_text="Slug of the team that will own it")
    purpose = StrictCharField(required=False, allow_blank=True, default="", help_text="At most 200 characters")
    confirm_uid = StrictCharField(help_text="The namespace's current metadata.uid, confirming which object is adopted "
                                            "(a wrong or stale uid is refused with 400 naming the current one)")

    def validate_cluster(self, value):
        return _cluster_named(value)

    def validate_team(self, value):
        team = Team.objects.filter(slug=value).first()
        if team is None:
            raise serializers.ValidationError(f'no team "{value[:63]}"')
        return team


# --- namespace requests (``/api/v1/namespace-requests/``) -------------------------------------


class NamespaceRequestSerializer(RequestSerializer):
    """A namespace request as the API shows it."""

    cluster = serializers.CharField(source="cluster.name", read_only=True, help_text="Cluster name")
    name = serializers.CharField(read_only=True)
    purpose = serializers.SerializerMethodField()
    quota = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
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

    def get_tier(self, obj) -> str | None:
        return obj.payload.get("tier")

    def get_ttl_hours(self, obj) -> int | None:
        return obj.payload.get("ttl_hours")

    @extend_schema_field(serializers.ChoiceField(choices=PodSecurityLevel.choices))
    def get_pod_security_level(self, obj) -> str:
        return obj.payload.get("pod_security_level", "")


class NamespaceRequestCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/namespace-requests/``.

    Types only; the namespace rules (DNS-1123 name, reserved names, unique per
    cluster, quota bounds, TTL bounds) are applied by
    ``namespace_request_validate`` inside the submit service.
    """

    # No max_length here: the service's messages are the ones clients should see
    # (Django's DATA_UPLOAD_MAX_MEMORY_SIZE already bounds the body).
    cluster = StrictCharField(help_text="Cluster name (see GET /api/v1/clusters/)")
    team = TeamSlugField(queryset_for=teams_visible_to, help_text="Slug of one of your teams")
    name = StrictCharField(help_text="Namespace name: a DNS-1123 label of at most 63 characters, not default or kube-*")
    purpose = StrictCharField(required=False, allow_blank=True, default="", help_text="At most 200 characters")
    quota = QuotaField(required=False, default=None, allow_null=True,
                       help_text="Omit for the default quota, or send tier instead")
    tier = StrictCharField(required=False, allow_null=True, default=None, max_length=32,
                           help_text="Name of a quota tier (GET /api/v1/quota-tiers/): its quota and container defaults")
    ttl_hours = StrictIntegerField(required=False, allow_null=True, default=None,
                                   help_text="Delete the namespace this many hours after approval")
    pod_security_level = serializers.ChoiceField(choices=PodSecurityLevel.choices, required=False, allow_null=True,
                                                 default=None, help_text="Defaults to the cluster's level")

    def validate_cluster(self, value):
        return _cluster_named(value)


class QuotaTierSerializer(serializers.Serializer):
    """A quota tier: what ``"tier": "<name>"`` asks for."""

    name = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    hard = QuotaField(read_only=True, help_text="ResourceQuota hard values")
    limit_default = QuotaField(read_only=True, help_text="LimitRange default limits per container")
    limit_default_request = QuotaField(read_only=True, help_text="LimitRange default requests per container")


# --- lifetime extensions (``POST /api/v1/namespaces/{id}/extend/``) ----------------------------


class ExtensionRequestSerializer(RequestSerializer):
    """A lifetime extension request as the API shows it (decide it with ``/api/v1/requests/{id}/approve/``)."""

    namespace = serializers.IntegerField(source="namespace_id", read_only=True, allow_null=True, help_text="Id of the namespace")
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    name = serializers.CharField(read_only=True, help_text="Namespace name")
    ttl_hours = serializers.SerializerMethodField()
    previous_expires_at = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField()
    request_reason = serializers.SerializerMethodField()
    decided_by_rule = serializers.CharField(read_only=True, help_text="The auto-approval rule that approved it, if one did")

    def get_ttl_hours(self, obj) -> int:
        return obj.payload.get("ttl_hours")

    @extend_schema_field(serializers.DateTimeField(help_text="The namespace's expiry when the extension was asked for"))
    def get_previous_expires_at(self, obj) -> str | None:
        return obj.payload.get("previous_expires_at")

    @extend_schema_field(serializers.DateTimeField(allow_null=True, help_text="The expiry approving set; null until approved"))
    def get_expires_at(self, obj) -> str | None:
        return obj.payload.get("expires_at")

    def get_request_reason(self, obj) -> str:
        return obj.payload.get("reason", "")


class ExtendInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/namespaces/{id}/extend/``."""

    ttl_hours = StrictIntegerField(help_text="Keep the namespace this many hours from the approval "
                                             "(at most NAMESPACE_MAX_TTL_HOURS, and later than its current expiry)")
    reason = StrictCharField(required=False, allow_blank=True, default="", help_text="Why; shown to the approver (at most 500 characters)")
