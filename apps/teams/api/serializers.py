"""Serializers of the teams API: teams, their members, user deactivation.

Input serializers are strict (unknown fields and wrong JSON types are 400s)
and check types only; the membership rules live in ``apps.teams.services``.
"""

from rest_framework import serializers

from apps.accounts.models import User
from apps.core.api.serializers import StrictCharField, StrictInputSerializer
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


# --- members (``/api/v1/teams/{slug}/members/``) ----------------------------------------------


class MembershipSerializer(serializers.Serializer):
    """One member of a team (output only)."""

    username = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)
    cluster_identity = serializers.CharField(
        source="user.cluster_identity", read_only=True,
        help_text="The member's name on clusters: certificate CN and RoleBinding subject",
    )
    since = serializers.DateTimeField(source="created_at", read_only=True, help_text="When they joined the team")


class MemberAddInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/teams/{slug}/members/``.

    Only the user's existence is resolved here; who may add, the role rules
    and "already in the team" are the service's (``membership_add``).
    """

    username = StrictCharField(max_length=150, help_text="Username of an active portal user")
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False, default=Membership.Role.MEMBER,
                                   help_text="Defaults to member")

    def validate_username(self, value: str):
        # Same lookup and message as the page's form; deactivated users cannot
        # be added back by accident (re-activation is an admin decision).
        user = User.objects.filter(username=value.strip(), is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f'no active user "{value.strip()[:150]}"')
        return user


class MemberRoleInputSerializer(StrictInputSerializer):
    """Body of ``PATCH /api/v1/teams/{slug}/members/{username}/``."""

    role = serializers.ChoiceField(choices=Membership.Role.choices, help_text="The new role")

    # The one field *is* the change, so it stays required even on PATCH: an
    # empty body is a client mistake, not a no-op. drf-spectacular marks PATCH
    # bodies partial by setting this attribute; pinning it keeps the schema
    # saying what the view does.
    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value) -> None:
        pass


# --- users (``/api/v1/users/{username}/deactivate/``) ---------------------------------------


class DeactivatedUserSerializer(serializers.Serializer):
    """A user after deactivation (output only)."""

    username = serializers.CharField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    cluster_identity = serializers.CharField(read_only=True,
                                             help_text="Bound nowhere any more once the team reconciles finish")
