"""Output serializers of the clusters API: what a developer needs to pick a cluster, never credentials."""

from rest_framework import serializers

from apps.clusters.models import Cluster, PodSecurityLevel


class ClusterSerializer(serializers.Serializer):
    """A cluster without its CA bundle or credentials (those stay server-side)."""

    name = serializers.SlugField(read_only=True)
    api_server_url = serializers.URLField(read_only=True)
    labels = serializers.DictField(child=serializers.CharField(), read_only=True,
                                   help_text='e.g. {"env": "prod", "region": "eu-west-1"}')
    health = serializers.ChoiceField(choices=Cluster.Health.choices, read_only=True)
    health_checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    server_version = serializers.CharField(read_only=True)
    default_pod_security = serializers.ChoiceField(choices=PodSecurityLevel.choices, read_only=True)
