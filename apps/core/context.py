"""Where a change comes from, carried for the audit log.

The middleware sets ``via`` (ui/api) and a request id for each HTTP request;
Celery tasks set ``via="worker"``. Everything else is ``system``.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid

_via: contextvars.ContextVar[str] = contextvars.ContextVar("portal_via", default="system")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("portal_request_id", default="")
# What the client sent as X-Request-ID: kept apart from the portal's own id,
# because a client could otherwise make its changes look like someone else's.
_client_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("portal_client_request_id", default="")

VIA_CHOICES = (("ui", "UI"), ("api", "API"), ("worker", "Worker"), ("system", "System"))


def current_via() -> str:
    return _via.get()


def current_request_id() -> str:
    return _request_id.get()


def current_client_request_id() -> str:
    return _client_request_id.get()


@contextlib.contextmanager
def acting_via(via: str, request_id: str | None = None, client_request_id: str = ""):
    """Mark everything inside the block as coming from ``via``."""
    via_token = _via.set(via)
    rid_token = _request_id.set(request_id or uuid.uuid4().hex)
    crid_token = _client_request_id.set(client_request_id)
    try:
        yield
    finally:
        _via.reset(via_token)
        _request_id.reset(rid_token)
        _client_request_id.reset(crid_token)


def task_request_id(task) -> str:
    """The id a Celery task acts under: the web request's that enqueued it (``portal.celery``), else its own."""
    return getattr(task.request, "portal_request_id", None) or task.request.id
