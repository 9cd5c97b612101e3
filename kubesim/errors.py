"""Kubernetes ``Status`` errors, shaped like k8s.io/apimachinery/pkg/api/errors."""

from __future__ import annotations


class StatusError(Exception):
    """An error that the server answers with a ``kind: Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]  # StatusReasonUnknown is "" and omitted (omitempty), as errors that are not API statuses
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str, **extra) -> dict:
    details = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details.update(extra)
    return details


def not_found(group: str, resource: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{_qualified(group, resource)} "{name}" not found', _details(name, group, resource))


def already_exists(group: str, resource: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{_qualified(group, resource)} "{name}" already exists', _details(name, group, resource))


def conflict(group: str, resource: str, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid(group: str, kind: str, name: str, causes: list[dict]) -> StatusError:
    """A 422 ``Invalid`` Status; ``causes`` items are ``{"reason": "FieldValueInvalid", "message": ..., "field": ...}``.

    The keys are those of the real ``metav1.StatusCause`` JSON: its Go field
    ``Type`` is serialized as ``reason`` (clients such as the Python
    ``V1StatusCause`` read ``.reason``), then ``message`` and ``field``.
    """
    parts = []
    for cause in causes:
        field = cause.get("field", "")
        parts.append(f"{field}: {cause['message']}" if field else cause["message"])
    if len(parts) == 1:
        summary = parts[0]
    else:
        summary = "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return StatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {summary}',
        _details(name, group, kind, causes=causes),
    )


def forbidden(group: str, resource: str, name: str, why: str) -> StatusError:
    """``why`` completes ``<resource> "<name>" is forbidden: <why>``."""
    qualified = _qualified(group, resource)
    subject = f'{qualified} "{name}"' if name else qualified
    return StatusError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, group, resource))


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_supported(group: str, resource: str, verb: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {_qualified(group, resource)!r}",
        {"group": group, "kind": resource} if group else {"kind": resource},
    )


def too_large(message: str = "Request entity too large: limit is 3145728") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str = "the server is currently unable to handle the request") -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def too_many_requests(retry_after: int = 1) -> StatusError:
    return StatusError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        {"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def resource_expired(message: str) -> StatusError:
    """410 Expired, e.g. ``too old resource version: 5 (1200)`` for a watch beyond the event history."""
    return StatusError(410, "Expired", message)


def gone(message: str) -> StatusError:
    """410 Gone (a plain Gone, e.g. an expired continue token)."""
    return StatusError(410, "Gone", message)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def method_not_allowed(message: str) -> StatusError:
    """405 for a verb the resource does not serve (``create`` on a virtual review's GET, etc.)."""
    return StatusError(405, "MethodNotAllowed", message)


def not_found_path(message: str = "the server could not find the requested resource") -> StatusError:
    """404 for an unknown URL (no resource behind it); the real body carries no name."""
    return StatusError(404, "NotFound", message, {})


def invalid_causes(group: str, kind: str, name: str, causes: list[dict]) -> StatusError:
    """Alias of :func:`invalid` for readability at call sites building many causes."""
    return invalid(group, kind, name, causes)


def timeout(message: str = "Timeout: request did not complete within the allotted timeout") -> StatusError:
    return StatusError(504, "Timeout", message)
