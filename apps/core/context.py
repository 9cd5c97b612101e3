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

VIA_CHOICES = (("ui", "UI"), ("api", "API"), ("worker", "Worker"), ("system", "System"))


def current_via() -> str:
    return _via.get()


def current_request_id() -> str:
    return _request_id.get()


@contextlib.contextmanager
def acting_via(via: str, request_id: str | None = None):
    """Mark everything inside the block as coming from ``via``."""
    via_token = _via.set(via)
    rid_token = _request_id.set(request_id or uuid.uuid4().hex)
    try:
        yield
    finally:
        _via.reset(via_token)
        _request_id.reset(rid_token)
