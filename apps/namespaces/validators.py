"""Namespace name rules (DNS-1123 label, reserved names)."""

import re
from fnmatch import fnmatchcase

from django.conf import settings
from django.core.exceptions import ValidationError

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def reserved_pattern(name: str, cluster=None) -> str | None:
    """The reserved pattern ``name`` matches (settings, or the portal's namespace on ``cluster``), else None."""
    patterns = list(settings.RESERVED_NAMESPACES)
    if cluster is not None and cluster.portal_namespace:
        patterns.append(cluster.portal_namespace)
    return next((p for p in patterns if fnmatchcase(name, p)), None)


def validate_namespace_name(value: str) -> None:
    if len(value) > 63:
        raise ValidationError("must be no more than 63 characters (it is %(n)s)", params={"n": len(value)}, code="max_length")
    if not DNS1123_LABEL.match(value):
        raise ValidationError(
            "must consist of lower case letters, digits and '-', and start and end with a letter or digit (e.g. 'payments-dev')",
            code="dns1123",
        )
    if reserved_pattern(value) is not None:
        raise ValidationError('"%(value)s" is reserved for the cluster or the portal; choose another name',
                              params={"value": value}, code="reserved")


def validate_namespace_name_on(value: str, cluster) -> None:
    """``validate_namespace_name`` plus the names reserved on ``cluster`` (the portal's own namespace there)."""
    validate_namespace_name(value)
    if reserved_pattern(value, cluster) is not None:
        raise ValidationError('"%(value)s" is reserved for the cluster or the portal; choose another name',
                              params={"value": value}, code="reserved")
