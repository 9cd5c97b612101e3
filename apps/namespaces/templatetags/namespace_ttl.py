"""Template helper for a namespace's TTL: ``{% expiry ns as exp %}`` then ``exp.label``/``exp.tone``/``exp.highlight``.

The rules (warning thresholds, what protected or Terminating means) live in
``apps.namespaces.selectors.namespace_expiry``; this only exposes them to
templates. It runs no query, so list pages stay at a constant query count.
"""

from __future__ import annotations

from datetime import datetime

from django import template

from apps.namespaces.selectors import Expiry, namespace_expiry

register = template.Library()


@register.simple_tag
def expiry(namespace) -> Expiry:
    """The TTL status of ``namespace`` now (see ``namespace_expiry``)."""
    return namespace_expiry(namespace)


@register.filter
def iso_datetime(value):
    """An ISO 8601 string (as request payloads keep times) as a datetime for ``|date``; None when it is not one."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
