"""What every admission plugin shares: the request it sees, the base class, warnings and the Forbidden wording.

Warnings (PodSecurity's ``warn`` label) cannot travel in a plugin's return
value, so they are collected per thread: the server reads them with
:func:`pop_warnings` and sends them as ``Warning`` headers, like the real API server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .. import errors
from ..resources import ResourceType
from ..types import Attributes, UserInfo

_warnings = threading.local()


def pop_warnings() -> list[str]:
    """Warnings produced by admission in this thread since the last call (cleared on read)."""
    out = list(getattr(_warnings, "items", []))
    _warnings.items = []
    return out


def add_warning(message: str) -> None:
    """Queue a ``Warning`` header for the current request."""
    if not hasattr(_warnings, "items"):
        _warnings.items = []
    _warnings.items.append(message)


@dataclass
class AdmissionRequest:
    """One write as the plugins see it (admission.Attributes); plugins may mutate ``obj`` in place.

    ``obj`` is None for DELETE, ``old`` None for CREATE; ``namespace`` is the
    object's namespace ("" for cluster-scoped kinds).
    """

    operation: str
    rt: ResourceType
    obj: dict | None
    old: dict | None
    user: UserInfo
    subresource: str
    namespace: str


class Plugin:
    """One admission plugin: the operations it handles (admission.Handler) and ``admit``, which raises to refuse."""

    operations: frozenset[str] = frozenset()

    def __init__(self, store, authorizer):
        self.store = store
        self.authorizer = authorizer

    def admit(self, a: AdmissionRequest) -> None:
        raise NotImplementedError

    def authorized(self, user: UserInfo, verb: str, resource: str, name: str, namespace: str, group: str) -> bool:
        return self.authorizer.authorize(Attributes(user=user, verb=verb, api_group=group, api_version="v1",
                                                    resource=resource, namespace=namespace, name=name))[0]


def object_name(obj: dict | None, fallback: str = "") -> str:
    """extractResourceName: the object's name, else its generateName, else "Unknown"."""
    meta = (obj or {}).get("metadata") or {}
    return meta.get("name") or meta.get("generateName") or fallback or "Unknown"


def forbidden(rt, obj: dict | None, why: str, name: str = "") -> errors.StatusError:
    """admission.NewForbidden: ``<resource> "<name>" is forbidden: <why>``."""
    return errors.forbidden(rt.group, rt.plural, object_name(obj, name), why)


def go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_quote(items) -> str:
    return ", ".join(go_quote(i) for i in items)
