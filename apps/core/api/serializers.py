"""Strict input serializers and JSON-typed fields, the base of every app's input serializers.

``StrictInputSerializer``
    Refuses unknown fields (``{"colour": ["unknown field"]}``) and non-object
    bodies, so a typo in a field name is an error instead of being silently
    ignored.
``StrictCharField`` / ``StrictIntegerField``
    JSON-typed fields: a number is not a string, ``"12"`` and ``true`` are not
    integers. DRF's own fields coerce, which hides client bugs.
``QuotaField``
    An object of resource name -> Kubernetes quantity (the shape only).
``EmptyInputSerializer``
    An action that takes no fields.

Types only: the rules (quota bounds, name rules, who may do what) are the
services', whose errors ``apps.core.api.errors.exception_handler`` turns into
the same field-level JSON.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


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


class EmptyInputSerializer(StrictInputSerializer):
    """An action that takes no fields (e.g. ``/cancel/``); an empty object or no body."""


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
    """A JSON boolean (DRF's BooleanField also takes ``"yes"``, ``1``, ``"on"``...)."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


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
