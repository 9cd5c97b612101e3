"""The API's errors: service and model errors turned into JSON, and their shapes for the schema.

Rules are not repeated in serializers: services raise ``ValidationError``
with field names and ``exception_handler`` turns it into the same
field-level JSON a form shows.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.api.schema import VALIDATION_ERROR_SCHEMA
from apps.core.errors import IdempotencyKeyReused, ServiceError


def exception_handler(exc, context):
    """Turn model/service errors into DRF's JSON error shape.

    ``ValidationError`` from a service keeps its field names, so a client sees
    ``{"name": ["..."]}`` exactly as the form does.
    """
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            detail = {("non_field_errors" if field == "__all__" else field): msgs for field, msgs in exc.message_dict.items()}
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, IdempotencyKeyReused):
        # The field is machine-readable too (IETF idempotency-key draft: 422).
        return Response({"detail": str(exc), "field": exc.field}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    elif isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


# --- shapes, for ``@extend_schema(responses=...)`` ----------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """``{"detail": "..."}``: 401, 403, 404, 409."""

    detail = serializers.CharField()


class IdempotencyErrorSerializer(ErrorSerializer):
    """422: ``{"detail": "...", "field": "quota"}``, naming the first field that differs from the first request."""

    field = serializers.CharField(help_text='The first body field that differs ("kind" for another kind of request)')


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
    return {
        code: OpenApiResponse(response={400: VALIDATION_ERROR_SCHEMA, 422: IdempotencyErrorSerializer}.get(code, ErrorSerializer),
                              description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }
