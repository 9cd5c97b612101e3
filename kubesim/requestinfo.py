"""What a URL addresses: group, version, namespace, resource, name, subresource and the RBAC verb."""

from __future__ import annotations

from urllib.parse import unquote

from . import resources
from .resources import ResourceType


class RequestInfo:
    """What a URL addresses, as k8s.io/apiserver's RequestInfo."""

    __slots__ = ("resource_request", "path", "verb", "group", "version", "namespace", "resource", "name",
                 "subresource", "rt", "parts")

    def __init__(self, path: str):
        self.path = path
        self.resource_request = False
        self.verb = ""
        self.group = self.version = self.namespace = self.resource = self.name = self.subresource = ""
        self.rt: ResourceType | None = None
        self.parts: list[str] = []


def parse_request_info(method: str, path: str, query: dict) -> RequestInfo:
    """Split an API path into group/version/namespace/resource/name/subresource and the RBAC verb."""
    info = RequestInfo(path)
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    info.parts = parts
    http_verb = method.lower()
    if not parts or parts[0] not in ("api", "apis"):
        info.verb = http_verb
        return info
    if parts[0] == "api":
        if len(parts) < 3:
            info.verb = http_verb
            return info
        info.group, info.version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            info.verb = http_verb
            return info
        info.group, info.version, rest = parts[1], parts[2], parts[3:]
    info.resource_request = True
    watch_prefix = False
    if rest and rest[0] == "watch":  # deprecated /watch/ paths kubectl no longer uses, kept for old clients
        watch_prefix = True
        rest = rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        # As k8s.io/apiserver's RequestInfoFactory: /namespaces/<ns>/<resource>... scopes a resource,
        # except the namespace's own subresources (status, finalize).
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    if rest:
        info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = "/".join(rest[2:])
    is_collection = not info.name
    if method == "GET":
        if watch_prefix or query.get("watch", [""])[0] in ("true", "1"):
            info.verb = "watch"
        else:
            info.verb = "list" if is_collection else "get"
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "deletecollection" if is_collection else "delete"
    else:
        info.verb = http_verb
    info.rt = resources.lookup(info.group, info.version, info.resource)
    return info
