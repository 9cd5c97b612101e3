"""Shared value types passed between kubesim's modules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity, as kube-apiserver's user.Info."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Attributes:
    """What an authorizer decides on, as kube-apiserver's authorizer.Attributes.

    For resource requests ``resource`` is the plural ("pods"), ``subresource``
    is e.g. "status" or "approval", ``api_group`` is "" for core. For
    non-resource requests ``path`` is the URL path and ``verb`` the lower-case
    HTTP method ("get", "post", ...).
    """

    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
