"""Namespace name rules (DNS-1123 label, reserved names)."""

import re

from django.core.exceptions import ValidationError

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RESERVED = {"default", "kube-system", "kube-public", "kube-node-lease"}


def validate_namespace_name(value: str) -> None:
    if len(value) > 63:
        raise ValidationError("must be no more than 63 characters (it is %(n)s)", params={"n": len(value)}, code="max_length")
    if not DNS1123_LABEL.match(value):
        raise ValidationError(
            "must consist of lower case letters, digits and '-', and start and end with a letter or digit (e.g. 'payments-dev')",
            code="dns1123",
        )
    if value in RESERVED or value.startswith("kube-"):
        raise ValidationError('"%(value)s" is reserved for the cluster; choose another name', params={"value": value}, code="reserved")
