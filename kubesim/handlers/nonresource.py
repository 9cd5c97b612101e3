"""Paths outside the resource API: discovery, ``/version``, ``/`` and the OpenAPI documents."""

from __future__ import annotations

from .. import errors, resources
from ..discovery import KUBE_VERSION, discovery_groups, discovery_resources


class NonResourceHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    def non_resource(self) -> None:
        path = self.path.rstrip("/") or "/"
        self.authorize()
        if self.method not in ("GET", "HEAD"):
            if path in ("/version", "/api", "/apis") or path.startswith(("/api/", "/apis/", "/openapi")):
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            raise errors.not_found_path()
        if path == "/version":
            return self.h.send_json(200, KUBE_VERSION)
        if path == "/api":
            return self.h.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.api.host}:{self.api.port}"}]})
        if path == "/apis":
            return self.h.send_json(200, discovery_groups())
        if path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
            parts = path.strip("/").split("/")
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery_resources(group, version)
            if doc is None:
                raise errors.not_found_path()
            return self.h.send_json(200, doc)
        if path.startswith("/apis/") and path.count("/") == 2:
            group = path.split("/")[2]
            for g in discovery_groups()["groups"]:
                if g["name"] == group:
                    return self.h.send_json(200, dict(g, kind="APIGroup", apiVersion="v1"))
            raise errors.not_found_path()
        if path.startswith("/openapi/"):
            return self.openapi(path)
        if path == "/":
            paths = sorted({"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2",
                            "/openapi/v3"} | {f"/apis/{g}/{v}" for g, v in resources.group_versions() if g}
                           | {f"/apis/{g}" for g, _v in resources.group_versions() if g})
            return self.h.send_json(200, {"paths": paths})
        raise errors.not_found_path()

    def openapi(self, path: str) -> None:
        try:
            from .. import openapi
        except ImportError:
            raise errors.not_found_path() from None
        if path == "/openapi/v2":
            data = openapi.v2_document()
            return self.h.send_raw(200, data, "application/json")
        if path == "/openapi/v3":
            return self.h.send_json(200, openapi.v3_index())
        if path.startswith("/openapi/v3/"):
            doc = openapi.v3_document(path[len("/openapi/v3/"):])
            if doc is None:
                raise errors.not_found_path()
            if isinstance(doc, (bytes, bytearray)):
                return self.h.send_raw(200, bytes(doc), "application/json")
            return self.h.send_json(200, doc)
        raise errors.not_found_path()
