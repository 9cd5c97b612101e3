"""``TeamSlugField``: a team named by its slug in an API body, resolved within what the user may name.

Not in ``apps.teams.api``: other apps' input serializers (namespace requests,
join requests) use it, and no app imports another app's ``api`` package.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"type": "string", "description": "Team slug", "example": "payments"})
class TeamSlugField(serializers.Field):
    """A team given by its slug, resolved within a per-user queryset.

    ``queryset_for(user)`` is a selector (e.g. ``teams_visible_to``); the user
    comes from the serializer context's ``request``. Unknown and invisible
    teams get the same message on purpose, so outsiders learn nothing about
    other teams.
    """

    default_error_messages = {
        "invalid": "must be a team slug (a string)",
        "not_found": 'you are not a member of a team "{slug}"',
    }

    def __init__(self, *, queryset_for, **kwargs):
        self.queryset_for = queryset_for
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data:
            self.fail("invalid")
        user = self.context["request"].user
        team = self.queryset_for(user).filter(slug=data).first()
        if team is None:
            # Truncate: echoing megabytes of garbage back helps nobody.
            self.fail("not_found", slug=data[:63])
        return team

    def to_representation(self, value):
        return value.slug
