"""Serializers of the API-token API: types only; limits live in the service."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import ApiToken
from apps.core.api.serializers import StrictCharField, StrictInputSerializer, StrictIntegerField


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as listed: never the secret, which is not stored."""

    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    expired = serializers.BooleanField(source="is_expired", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "user", "name", "prefix", "created_at", "expires_at", "expired", "last_used_at"]
        read_only_fields = fields


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    """The answer to ``POST``: the row plus the token itself, returned this once."""

    token = serializers.CharField(read_only=True, help_text="Send as `Authorization: Token <token>`; shown only now")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/tokens/``."""

    name = StrictCharField(max_length=ApiToken._meta.get_field("name").max_length, help_text="What the token is for, e.g. 'ci'")
    expires_in_days = StrictIntegerField(required=False, allow_null=True, default=None,
                                         help_text="Lifetime in days; the default and the maximum are set by the platform team")


class MembershipBriefSerializer(serializers.Serializer):
    team = serializers.CharField(source="team.slug")
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    """Who the caller is: what a CLI shows for ``whoami`` and puts in a CSR's CN."""

    username = serializers.CharField()
    full_name = serializers.CharField(source="get_full_name")
    email = serializers.CharField()
    platform_role = serializers.CharField(help_text='"admin", "auditor" or "" (none)')
    cluster_identity = serializers.CharField(help_text="Your user name on clusters: the CN of your client certificates")
    teams = MembershipBriefSerializer(source="memberships.all", many=True)
