"""API helpers shared by every app: the JSON error shape."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ServiceError


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
    elif isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
