"""Serializers of the request workflow API, and the helpers every request API shares.

Shared helpers (the onboarding API's membership requests import these, so every
request kind speaks the same JSON):

``StrictInputSerializer``
    Base class for *input* serializers: refuses unknown fields
    (``{"colour": ["unknown field"]}``) and non-object bodies, so a typo in a
    field name is an error instead of being silently ignored.
``StrictCharField`` / ``StrictIntegerField`` / ``StrictBooleanField``
    JSON-typed fields: a number is not a string, ``"12"`` and ``true`` are not
    integers. DRF's own fields coerce, which hides client bugs.
``TeamSlugField(queryset_for=...)``
    Resolves a team slug from a queryset computed per user (a selector). A slug
    outside that queryset gets the same message whether or not the team exists,
    so outsiders learn nothing about other teams.
``RequestSerializer``
    Output fields common to every request kind (id, kind, state, team,
    requester, decider, reason, timestamps). Subclass it and add the
    kind-specific fields.
``DecisionInputSerializer``
    Body of ``/approve/`` and ``/reject/`` (optional ``reason``).
``ErrorSerializer`` / ``ValidationErrorSerializer``
    The error shapes, for ``@extend_schema(responses=...)``.
``idempotency_key_from(request)`` and ``IDEMPOTENCY_KEY_PARAMETER``
    Read and check the ``Idempotency-Key`` header; the schema parameter.

The view side of the workflow (list/retrieve/approve/reject/cancel for one
request kind) is ``apps.approvals.api.views.RequestWorkflowViewSet``.

Rules (quota bounds, name rules, who may decide) are *not* repeated here: the
services raise ``ValidationError`` with field names and ``apps.core.api``
turns it into the same field-level JSON.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from apps.approvals.models import Request
from apps.clusters.models import PodSecurityLevel
from apps.core.schema import VALIDATION_ERROR_SCHEMA

# --- strict input -------------------------------------------------------------


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that rejects fields it does not declare.

    Read-only fields are not inputs either: sending ``state`` to a create
    endpoint is a mistake worth telling the client about.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)

    # Input serializers never save; views call services with validated_data.
    def create(self, validated_data):  # pragma: no cover - guard
        raise NotImplementedError("input serializers do not save; call a service")

    def update(self, instance, validated_data):  # pragma: no cover - guard
        raise NotImplementedError("input serializers do not save; call a service")


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF's CharField turns ``5`` into ``"5"``)."""

    default_error_messages = {"invalid": "must be a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: ``"12"``, ``12.5`` and ``true`` are refused (DRF accepts the first two)."""

    default_error_messages = {"invalid": "must be an integer"}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (DRF's BooleanField also takes ``"yes"``, ``1``, ``"on"``…)."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field({"type": "string", "description": "Team slug", "example": "payments"})
class TeamSlugField(serializers.Field):
    """A team given by its slug, resolved within a per-user queryset.

    ``queryset_for(user)`` is a selector (e.g. ``teams_visible_to``); the user
    comes from the serializer context's ``request``. Unknown and invisible
    teams get the same message on purpose.
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


# --- idempotency ----------------------------------------------------------------

# The model column is 128 characters; printable ASCII keeps keys loggable.
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Client-chosen key (1-128 printable ASCII characters, e.g. a UUID). Repeating a create with the same key "
        "returns the request created the first time (200) instead of creating another. Reusing a key for a "
        "different request is refused with 422."
    ),
)


def idempotency_key_from(request) -> str:
    """The request's ``Idempotency-Key`` header, checked; ``""`` when absent.

    Raises a DRF ``ValidationError`` (400, keyed ``Idempotency-Key``) when the
    header is present but unusable, rather than silently ignoring it and
    losing the client's at-most-once guarantee.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not _IDEMPOTENCY_KEY.match(key):
        raise serializers.ValidationError({"Idempotency-Key": ["must be 1 to 128 printable ASCII characters without spaces"]})
    return key


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


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "ResourceQuota hard values: resource name -> Kubernetes quantity",
        "example": {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"},
    }
)
class QuotaField(serializers.Field):
    """An object of resource name -> quantity.

    Only the JSON shape is checked here (object, string keys, string or
    integer values); whether ``"2Gi"`` is a valid, sane quantity is the
    service's rule (``apps.core.quantities``) and comes back as
    ``{"quota": ["limits.cpu: ..."]}``.
    """

    default_error_messages = {
        "not_object": 'must be an object of resource name to quantity, e.g. {{"requests.cpu": "1"}}',
        "bad_value": '{resource}: must be a quantity string such as "500m" or "2Gi"',
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        problems = []
        for resource, value in data.items():
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                problems.append(self.error_messages["bad_value"].format(resource=resource[:63]))
        if problems:
            raise serializers.ValidationError(problems)
        return dict(data)

    def to_representation(self, value):
        return dict(value or {})


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


class EmptyInputSerializer(StrictInputSerializer):
    """An action that takes no fields (e.g. ``/cancel/``); an empty object or no body."""


# --- errors (schema only) ----------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """``{"detail": "..."}``: 401, 403, 404, 409."""

    detail = serializers.CharField()


class IdempotencyErrorSerializer(ErrorSerializer):
    """422: ``{"detail": "...", "field": "quota"}``, naming the first field that differs from the first request."""

    field = serializers.CharField(help_text='The first body field that differs ("kind" for another kind of request)')


# 400 bodies: see apps.core.schema.

_ERROR_DESCRIPTIONS = {
    400: "Invalid input: field-level messages",
    401: "No or invalid credentials (send `Authorization: Token <token>`)",
    403: "Authenticated but not allowed to do this; `detail` says why",
    404: "No such object, or not visible to you",
    409: "Conflicts with the object's current state (e.g. already decided)",
    422: "The Idempotency-Key was already used for a different request; `field` names the first difference",
}


def error_responses(*codes: int) -> dict:
    """``@extend_schema(responses=...)`` entries for the given error status codes."""
    from drf_spectacular.utils import OpenApiResponse

    return {
        code: OpenApiResponse(response={400: VALIDATION_ERROR_SCHEMA, 422: IdempotencyErrorSerializer}.get(code, ErrorSerializer),
                              description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }


__all__ = [
    "DecisionInputSerializer",
    "EmptyInputSerializer",
    "ErrorSerializer",
    "IdempotencyErrorSerializer",
    "IDEMPOTENCY_KEY_PARAMETER",
    "NamespaceRequestCreateInputSerializer",
    "NamespaceRequestSerializer",
    "QuotaField",
    "RequestSerializer",
    "StrictBooleanField",
    "StrictCharField",
    "StrictInputSerializer",
    "StrictIntegerField",
    "TeamSlugField",
    "VALIDATION_ERROR_SCHEMA",
    "error_responses",
    "idempotency_key_from",
]
