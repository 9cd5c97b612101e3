"""Output serializers of the namespaces API."""

from rest_framework import serializers

from apps.approvals.api.serializers import QuotaField
from apps.clusters.models import PodSecurityLevel
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
