"""Serializers of the teams API: teams, their members, user deactivation.

Input serializers are strict (unknown fields and wrong JSON types are 400s)
and check types only; the membership rules live in ``apps.teams.services``.
"""

from rest_framework import serializers

from apps.accounts.models import User
from apps.core.api.serializers import QuotaField, StrictBooleanField, StrictCharField, StrictInputSerializer
from apps.teams.models import Membership


class TeamSerializer(serializers.Serializer):
    """A team as a member sees it, with the caller's own role in it."""

    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    contact = serializers.CharField(read_only=True)
    budget = QuotaField(read_only=True, help_text="Resource name to quantity, summed over all the team's namespaces")
    archived = serializers.BooleanField(read_only=True, help_text="An archived team takes no new requests")
    created_at = serializers.DateTimeField(read_only=True)
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, read_only=True, allow_null=True, source="my_role",
        help_text="Your role in the team; null when you see it as a platform admin or auditor without being a member",
    )
    member_count = serializers.IntegerField(read_only=True)


_BUDGET_HELP = ('Resource name to quantity, e.g. {"requests.cpu": "20", "limits.memory": "64Gi"}; '
                'resources a namespace quota can set. {} removes the budget.')


class TeamCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/teams/`` (platform admins). Rules (slug format, budget quantities) are the service's."""

    slug = StrictCharField(max_length=63, help_text="Lowercase letters, digits and '-'; fixed once the team has namespaces")
    name = StrictCharField(max_length=100, help_text="Display name")
    description = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    contact = StrictCharField(max_length=200, required=False, allow_blank=True, default="",
                              help_text="Email or chat channel of the team")
    budget = QuotaField(required=False, default=dict, help_text=_BUDGET_HELP)
    manager = StrictCharField(max_length=150, required=False,
                              help_text="Username of an active user who becomes the team's first manager")

    def validate_manager(self, value: str):
        user = User.objects.filter(username=value.strip(), is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f'no active user "{value.strip()[:150]}"')
        return user


class TeamUpdateInputSerializer(StrictInputSerializer):
    """Body of ``PATCH /api/v1/teams/{slug}/``: only the fields sent change.

    Platform admins change every field; the team's managers ``description``
    and ``contact`` (anything else is a 403 naming the field).
    """

    slug = StrictCharField(max_length=63, required=False, help_text="Only while the team has no namespaces")
    name = StrictCharField(max_length=100, required=False)
    description = StrictCharField(max_length=2000, required=False, allow_blank=True)
    contact = StrictCharField(max_length=200, required=False, allow_blank=True)
    budget = QuotaField(required=False, help_text=_BUDGET_HELP)
    archived = StrictBooleanField(required=False, help_text="true archives the team (refused with 409 while it has "
                                                            "live namespaces or open requests); false restores it")

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["send at least one field to change"]})
        return attrs


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
