"""Output serializers of the namespaces API."""

from rest_framework import serializers

from apps.clusters.models import PodSecurityLevel
from apps.core.api.serializers import QuotaField, StrictCharField, StrictInputSerializer
from apps.namespaces.models import Namespace


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
        from apps.clusters.models import Cluster

        cluster = Cluster.objects.filter(name=value).first()
        if cluster is None:
            raise serializers.ValidationError(f'no cluster named "{value[:63]}"')
        return cluster

    def validate_team(self, value):
        from apps.teams.models import Team

        team = Team.objects.filter(slug=value).first()
        if team is None:
            raise serializers.ValidationError(f'no team "{value[:63]}"')
        return team
