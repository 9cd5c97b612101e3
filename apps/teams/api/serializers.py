"""Output serializers of the teams API."""

from rest_framework import serializers

from apps.teams.models import Membership


class TeamSerializer(serializers.Serializer):
    """A team as a member sees it, with the caller's own role in it."""

    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    contact = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, read_only=True, allow_null=True,
        help_text="Your role in the team; null when you see it as a platform admin or auditor without being a member",
    )
    member_count = serializers.IntegerField(read_only=True)
