"""The REST handlers: what one authenticated request does, by verb and resource.

:class:`Request` routes a request (``handle``) and checks authorization; the
handlers are mixed into it from one module per concern:

* :mod:`.crud` — get, list, create, update, patch (incl. server-side apply), delete, deletecollection
* :mod:`.watch` — watch streams
* :mod:`.subresources` — status/approval/finalize writes and ServiceAccount tokens
* :mod:`.reviews` — access, token and self-subject reviews (answered, never stored)
* :mod:`.nonresource` — discovery, ``/version``, OpenAPI
* :mod:`.admin` — kubesim's own ``/kubesim/faults`` and ``/kubesim/requests``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import errors
from ..requestinfo import RequestInfo
from ..types import Attributes, UserInfo
from .admin import AdminHandlers
from .crud import CRUDHandlers
from .nonresource import NonResourceHandlers
from .reviews import ReviewHandlers
from .subresources import SubresourceHandlers
from .watch import WatchHandlers

if TYPE_CHECKING:
    from ..server import APIServer
    from ..transport import Handler


class Request(CRUDHandlers, WatchHandlers, SubresourceHandlers, ReviewHandlers, NonResourceHandlers, AdminHandlers):
    """One API request, after authentication: routed by ``handle`` to the handler for its verb."""

    def __init__(self, api: APIServer, handler: Handler, method: str, path: str, query: dict, info: RequestInfo,
                 body: bytes, user: UserInfo):
        self.api = api
        self.h = handler
        self.method = method
        self.path = path
        self.query = query
        self.info = info
        self.body = body
        self.user = user

    def q(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def handle(self) -> None:
        info = self.info
        if self.path.startswith("/kubesim/"):
            return self.admin()
        if not info.resource_request:
            return self.non_resource()
        self.authorize()
        rt = info.rt
        if rt is None:
            raise errors.not_found_path()
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.not_found_path()
        if rt.namespaced and not info.namespace and info.verb not in ("list", "watch"):
            raise errors.not_found_path()
        if not rt.namespaced and info.namespace and rt.plural != "namespaces":
            raise errors.not_found_path()
        if info.verb not in rt.verbs and not info.subresource:
            raise errors.method_not_supported(rt.group, rt.plural, info.verb)
        if not rt.stored:
            return self.virtual(rt)
        verb = info.verb
        if verb == "get":
            return self.get(rt)
        if verb == "list":
            return self.list(rt)
        if verb == "watch":
            return self.watch(rt)
        if verb == "create":
            if info.name and info.subresource == "token" and rt.plural == "serviceaccounts":
                return self.token_request(rt)
            if info.name:
                raise errors.method_not_supported(rt.group, rt.plural, "create")
            return self.create(rt)
        if verb == "update":
            return self.update(rt)
        if verb == "patch":
            return self.patch(rt)
        if verb == "delete":
            return self.delete(rt)
        if verb == "deletecollection":
            return self.delete_collection(rt)
        raise errors.method_not_supported(rt.group, rt.plural, verb)

    def attributes(self, **overrides) -> Attributes:
        info = self.info
        if not info.resource_request:
            return Attributes(user=self.user, verb=info.verb, resource_request=False, path=self.path)
        namespace, name = info.namespace, info.name
        attrs = dict(user=self.user, verb=info.verb, resource_request=True, api_group=info.group,
                     api_version=info.version, resource=info.resource, subresource=info.subresource,
                     namespace=namespace, name=name, path=self.path)
        attrs.update(overrides)
        return Attributes(**attrs)

    def authorize(self, attrs: Attributes | None = None) -> None:
        attrs = attrs or self.attributes()
        allowed, _reason = self.api.authorizer.authorize(attrs)
        if not allowed:
            raise self.api.authorizer.forbidden(attrs)
