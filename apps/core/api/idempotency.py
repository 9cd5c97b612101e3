"""The ``Idempotency-Key`` header of create endpoints: read and checked here, honoured by the services.

The view passes the key to the submit service; what a repeated key means
(the earlier result, or 422 when the body differs) is the service's rule.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

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
