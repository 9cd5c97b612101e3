"""OpenAPI documents (``/openapi/v2``, ``/openapi/v3``) and strict field validation.

kubectl (>= 1.27) decides how to validate by reading ``/openapi/v3``: when the
PATCH operation of a kind carries ``x-kubernetes-group-version-kind`` and a
``fieldValidation`` query parameter, kubectl skips client-side validation
and sends ``?fieldValidation=Strict`` so the *server* rejects unknown fields
(``strict decoding error: unknown field "spec.foo"``). Without that, kubectl
falls back to client-side validation against the protobuf ``/openapi/v2``
document, which kubesim does not produce. So the v3 documents here mirror the
shape of kube-apiserver's (paths, operations, parameters, GVK extensions,
``components.schemas``) for every type in :func:`kubesim.resources.all_types`.

Schemas come from ``kubesim/openapi_definitions.json.gz``, generated at
development time from the ``kubernetes-validate`` package (the real
Kubernetes v1.32 definitions, with ``x-kubernetes-*`` extensions) by
``python -m kubesim.openapi``; custom resources (Gatekeeper, wg-policy) get
permissive CRD-style schemas with ``x-kubernetes-preserve-unknown-fields``.
Documents are built once per set of registered types and cached as bytes,
so serving them costs a dict lookup.

:func:`unknown_fields` / :func:`strict_decoding_error` implement the
server-side half of ``fieldValidation=Strict`` against the same schemas.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import sys
import threading
from pathlib import Path

from kubesim import errors, resources
from kubesim.resources import ResourceType

KUBE_VERSION = "v1.32.0"
DEFINITIONS_FILE = Path(__file__).with_name("openapi_definitions.json.gz")
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."

# Packages whose definitions are bundled (every kind in them, plus what they reference).
_BUNDLED_PACKAGES = (
    "io.k8s.api.core.v1.",
    "io.k8s.api.apps.v1.",
    "io.k8s.api.rbac.v1.",
    "io.k8s.api.networking.v1.",
    "io.k8s.api.certificates.v1.",
    "io.k8s.api.authorization.v1.",
    "io.k8s.api.authentication.v1.",
    "io.k8s.api.policy.v1.",
    "io.k8s.api.batch.v1.",
    _META,
)

# --------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------

_lock = threading.Lock()
_definitions: dict | None = None
_doc_cache: dict[tuple, tuple[bytes, str]] = {}


def definitions() -> dict:
    """Every bundled schema, keyed like ``io.k8s.api.core.v1.Namespace`` (OpenAPI v3 form, refs to components)."""
    global _definitions
    if _definitions is None:
        with _lock:
            if _definitions is None:
                _definitions = json.loads(gzip.decompress(DEFINITIONS_FILE.read_bytes()))
    return _definitions


def definition_name(group: str, version: str, kind: str) -> str:
    """The schema name kube-apiserver uses for a kind.

    Built-in kinds: ``io.k8s.api.<pkg>.<version>.<Kind>`` (core is ``core``,
    ``rbac.authorization.k8s.io`` is ``rbac``); custom resources use the
    reversed group, as the CRD handler does (``sh.gatekeeper.constraints.v1beta1.K8sRequiredLabels``).
    """
    if resources.is_custom(_rt_stub(group)) or any(rt.custom for rt in resources.kinds_in_group(group)):
        return ".".join(reversed(group.split("."))) + f".{version}.{kind}"
    package = "core" if not group else group.split(".", 1)[0]
    return f"io.k8s.api.{package}.{version}.{kind}"


def _rt_stub(group: str) -> ResourceType:
    return ResourceType(group, "", "", "", False)


def schema_for(rt: ResourceType) -> dict | None:
    """The object schema of a resource type, or None when kubesim has none (then nothing is checked)."""
    if resources.is_custom(rt):
        return _custom_schema(rt)
    return definitions().get(definition_name(rt.group, rt.version, rt.kind))


def _gvk(rt: ResourceType, kind: str | None = None) -> dict:
    return {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}


_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

# Top-level fields of the custom resources besides apiVersion/kind/metadata, after
# their upstream CRDs: Gatekeeper kinds carry spec/status; wg-policy reports have
# no spec but results/summary/scope/scopeSelector at the top level.
_CUSTOM_TOP_LEVEL = {
    "wgpolicyk8s.io": {
        "results": {"type": "array", "items": _PRESERVE},
        "summary": {
            "type": "object",
            "properties": {name: {"type": "integer"} for name in ("error", "fail", "pass", "skip", "warn")},
        },
        "scope": _PRESERVE,
        "scopeSelector": _PRESERVE,
    },
}
_DEFAULT_TOP_LEVEL = {"spec": _PRESERVE, "status": _PRESERVE}


def _custom_schema(rt: ResourceType, kind: str | None = None) -> dict:
    """A CRD's schema: typed metadata, then the CRD's own ``openAPIV3Schema`` properties (permissive ones for the
    built-in custom kinds)."""
    properties = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"allOf": [{"$ref": f"#/components/schemas/{_META}ObjectMeta"}]},
    }
    if rt.schema is not None:
        own = copy.deepcopy(rt.schema.get("properties") or {})
        for name in ("apiVersion", "kind", "metadata"):
            own.pop(name, None)
        properties.update(own)
        schema = {"type": "object", "properties": properties, "x-kubernetes-group-version-kind": [_gvk(rt, kind)]}
        if rt.schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["x-kubernetes-preserve-unknown-fields"] = True
        return schema
    properties.update(copy.deepcopy(_CUSTOM_TOP_LEVEL.get(rt.group, _DEFAULT_TOP_LEVEL)))
    return {"type": "object", "properties": properties, "x-kubernetes-group-version-kind": [_gvk(rt, kind)]}


def _custom_list_schema(rt: ResourceType) -> dict:
    item = definition_name(rt.group, rt.version, rt.kind)
    return {
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": f"#/components/schemas/{_META}ListMeta"}]},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
    }


def _refs(node) -> set[str]:
    found = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref.rsplit("/", 1)[1])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _closure(names, defs: dict) -> dict:
    out: dict = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in out or name not in defs:
            continue
        out[name] = defs[name]
        pending.extend(_refs(defs[name]) - out.keys())
    return out


# --------------------------------------------------------------------------
# Paths and operations
# --------------------------------------------------------------------------

_QUERY_DESCRIPTIONS = {
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
    "pretty": "If 'true', then the output is pretty printed. Defaults to 'false' unless the user has specified 'pretty' in their request.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served from.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
    "name": "name of the resource",
    "namespace": "object name and auth scope, such as for teams and projects",
}
_BOOL_PARAMS = {"force", "watch"}
_INT_PARAMS = {"limit", "timeoutSeconds", "gracePeriodSeconds"}


def _param(name: str, where: str = "query", *, v2: bool = False) -> dict:
    kind = "boolean" if name in _BOOL_PARAMS else "integer" if name in _INT_PARAMS else "string"
    param = {"name": name, "in": where, "description": _QUERY_DESCRIPTIONS.get(name, name)}
    if where == "path":
        param["required"] = True
    if v2:
        param["type"] = kind
        param["uniqueItems"] = True
    else:
        param["schema"] = {"type": kind, "uniqueItems": True}
    return param


def _camel(text: str) -> str:
    parts = re.split(r"[.\-_/]", text)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def _group_tag(group: str) -> str:
    """Operation-id/tag spelling of a group: "" -> core, rbac.authorization.k8s.io -> rbacAuthorization."""
    if not group:
        return "core"
    name = group[: -len(".k8s.io")] if group.endswith(".k8s.io") else group
    camel = _camel(name)
    return camel[:1].lower() + camel[1:]


_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_PATCH_TYPES_BUILTIN = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json")
_PATCH_TYPES_CUSTOM = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")


class _Builder:
    """Builds one OpenAPI document (v3, or v2 when ``v2``) for a set of resource types."""

    def __init__(self, types: list[ResourceType], v2: bool):
        self.types = types
        self.v2 = v2
        self.ref_prefix = "#/definitions/" if v2 else "#/components/schemas/"
        self.schema_names: set[str] = set()
        self.custom_schemas: dict[str, dict] = {}

    # -- helpers -----------------------------------------------------------
    def ref(self, name: str) -> dict:
        self.schema_names.add(name)
        return {"$ref": self.ref_prefix + name}

    def responses(self, codes: dict[str, str]) -> dict:
        out = {}
        for code, schema_name in codes.items():
            description = {"200": "OK", "201": "Created", "202": "Accepted"}[code]
            if self.v2:
                out[code] = {"description": description, "schema": self.ref(schema_name)}
            else:
                out[code] = {"description": description, "content": {m: {"schema": self.ref(schema_name)} for m in _MEDIA}}
        out["401"] = {"description": "Unauthorized"}
        return out

    def operation(self, rt: ResourceType, action: str, op_id: str, description: str, *, query=(), body: str | None = None,
                  body_types=("*/*",), responses: dict[str, str], kind: str | None = None) -> dict:
        op: dict = {
            "tags": [f"{_group_tag(rt.group)}_{rt.version}"],
            "description": description,
            "operationId": op_id,
        }
        params = [_param(q, v2=self.v2) for q in query]
        if body is not None:
            if self.v2:
                params.insert(0, {"name": "body", "in": "body", "required": True, "schema": self.ref(body)})
                op["consumes"] = list(body_types)
            else:
                op["requestBody"] = {"content": {t: {"schema": self.ref(body)} for t in body_types}, "required": True}
        if params:
            op["parameters"] = params
        if self.v2:
            op["produces"] = list(_MEDIA)
            op["schemes"] = ["https"]
        op["responses"] = self.responses(responses)
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = _gvk(rt, kind)
        return op

    def schema_of(self, rt: ResourceType, list_kind: bool = False) -> str:
        name = definition_name(rt.group, rt.version, rt.list_kind if list_kind else rt.kind)
        if resources.is_custom(rt):
            self.custom_schemas[name] = _custom_list_schema(rt) if list_kind else _custom_schema(rt)
        return name

    # -- paths -------------------------------------------------------------
    def paths(self) -> dict:
        out: dict = {}
        for rt in self.types:
            self.add_resource(out, rt)
        return dict(sorted(out.items()))

    def add_resource(self, out: dict, rt: ResourceType) -> None:
        base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
        gv = _camel(_group_tag(rt.group)) + _camel(rt.version)
        scope = "Namespaced" if rt.namespaced else ""
        collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
        item = f"{collection}/{{name}}"
        obj = self.schema_of(rt)
        write_query = ("dryRun", "fieldManager", "fieldValidation")
        list_query = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                      "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
        path_params = [_param("namespace", "path", v2=self.v2)] if rt.namespaced else []
        verbs = set(rt.verbs)

        coll: dict = {}
        if "list" in verbs:
            coll["get"] = self.operation(rt, "list", f"list{gv}{scope}{rt.kind}", f"list or watch objects of kind {rt.kind}",
                                         query=list_query, responses={"200": self.schema_of(rt, list_kind=True)})
        if "create" in verbs:
            coll["post"] = self.operation(rt, "post", f"create{gv}{scope}{rt.kind}", f"create {_article(rt.kind)}",
                                          query=write_query, body=obj, responses={"200": obj, "201": obj, "202": obj})
        if "deletecollection" in verbs:
            coll["delete"] = self.operation(rt, "deletecollection", f"deletecollection{gv}{scope}{rt.kind}",
                                            f"delete collection of {rt.kind}", query=("dryRun", "fieldSelector", "labelSelector", "gracePeriodSeconds", "propagationPolicy"),
                                            body=_META + "DeleteOptions", responses={"200": _META + "Status"})
        if coll:
            coll["parameters"] = path_params + [_param("pretty", v2=self.v2)]
            out[collection] = coll
        if rt.namespaced and "list" in verbs:
            # The all-namespaces list (GET /api/v1/configmaps).
            out[f"{base}/{rt.plural}"] = {
                "get": self.operation(rt, "list", f"list{gv}{rt.kind}ForAllNamespaces", f"list or watch objects of kind {rt.kind}",
                                      query=list_query, responses={"200": self.schema_of(rt, list_kind=True)}),
                "parameters": [_param("pretty", v2=self.v2)],
            }

        if verbs & {"get", "update", "patch", "delete"}:
            out[item] = self.item_operations(rt, gv, scope, obj, "", path_params)
        for sub in rt.subresources:
            if sub in ("status", "approval", "scale") and verbs & {"get", "update", "patch"}:
                out[f"{item}/{sub}"] = self.item_operations(rt, gv, scope, obj, sub, path_params)

    def item_operations(self, rt, gv, scope, obj, sub, path_params) -> dict:
        suffix = _camel(sub)
        what = f"{sub} of the specified {rt.kind}" if sub else f"the specified {rt.kind}"
        ops: dict = {}
        verbs = set(rt.verbs)
        if "get" in verbs:
            ops["get"] = self.operation(rt, "get", f"read{gv}{scope}{rt.kind}{suffix}", f"read {what}", responses={"200": obj})
        if "update" in verbs:
            ops["put"] = self.operation(rt, "put", f"replace{gv}{scope}{rt.kind}{suffix}", f"replace {what}",
                                        query=("dryRun", "fieldManager", "fieldValidation"), body=obj,
                                        responses={"200": obj, "201": obj})
        if "patch" in verbs:
            patch_types = _PATCH_TYPES_CUSTOM if resources.is_custom(rt) else _PATCH_TYPES_BUILTIN
            ops["patch"] = self.operation(rt, "patch", f"patch{gv}{scope}{rt.kind}{suffix}", f"partially update {what}",
                                          query=("dryRun", "fieldManager", "fieldValidation", "force"), body=_META + "Patch",
                                          body_types=patch_types, responses={"200": obj, "201": obj})
        if "delete" in verbs and not sub:
            ops["delete"] = self.operation(rt, "delete", f"delete{gv}{scope}{rt.kind}", f"delete {_article(rt.kind)}",
                                           query=("dryRun", "gracePeriodSeconds", "propagationPolicy"), body=_META + "DeleteOptions",
                                           responses={"200": _META + "Status", "202": _META + "Status"})
        ops["parameters"] = [_param("name", "path", v2=self.v2)] + path_params + [_param("pretty", v2=self.v2)]
        return ops

    # -- schemas -----------------------------------------------------------
    def schemas(self) -> dict:
        defs = definitions()
        for rt in self.types:
            if not resources.is_custom(rt):
                self.schema_names.update(n for n in (self.schema_of(rt), self.schema_of(rt, True)) if n in defs)
        merged = dict(defs)
        merged.update(self.custom_schemas)
        wanted = set(self.schema_names) | set(self.custom_schemas)
        out = _closure(wanted, merged)
        if self.v2:
            text = json.dumps(out).replace('"#/components/schemas/', '"#/definitions/')
            out = json.loads(text)
            # Swagger 2.0 has no oneOf: IntOrString and Quantity are plain strings there (as in the real v2 document).
            for name in ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity"):
                if name in out:
                    out[name] = {k: v for k, v in out[name].items() if k != "oneOf"} | {"type": "string"}
        return dict(sorted(out.items()))


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "AEIOU" else f"a {kind}"


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------


def _fingerprint() -> tuple:
    """Identity of the registered types; documents are rebuilt only when it changes (new constraint kinds)."""
    return tuple((rt.group, rt.version, rt.plural, rt.kind, rt.namespaced, rt.verbs, rt.subresources,
                  json.dumps(rt.schema, sort_keys=True) if rt.schema is not None else "") for rt in resources.all_types())


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _build_v3(group: str, version: str) -> dict:
    types = [rt for rt in resources.all_types() if (rt.group, rt.version) == (group, version)]
    builder = _Builder(types, v2=False)
    paths = builder.paths()
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": builder.schemas()},
    }


def _cached(key: tuple, build) -> tuple[bytes, str]:
    fingerprint = _fingerprint()
    full_key = (fingerprint,) + key
    hit = _doc_cache.get(full_key)
    if hit is None:
        data = json.dumps(build(), separators=(",", ":")).encode()
        hit = (data, hashlib.sha512(data).hexdigest().upper())
        with _lock:
            # Drop documents of an older registry so the cache cannot grow without bound.
            for stale in [k for k in _doc_cache if k[0] != fingerprint]:
                del _doc_cache[stale]
            _doc_cache[full_key] = hit
    return hit


def v3_document(group_version_path: str) -> bytes | None:
    """``/openapi/v3/<path>`` body (JSON bytes) for e.g. ``api/v1`` or ``apis/apps/v1``; None when not served."""
    path = group_version_path.split("?", 1)[0].strip("/")
    for group, version in resources.group_versions():
        if _gv_path(group, version) == path:
            return _cached(("v3", group, version), lambda: _build_v3(group, version))[0]
    return None


def v3_index() -> dict:
    """``/openapi/v3``: one entry per group-version with a content hash, as kube-apiserver does.

    The ``hash`` query lets clients (kubectl's disk cache) treat each document
    URL as immutable; it changes when a new constraint kind is registered.
    """
    paths = {}
    for group, version in resources.group_versions():
        path = _gv_path(group, version)
        _, digest = _cached(("v3", group, version), lambda g=group, v=version: _build_v3(g, v))
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def v2_document() -> bytes:
    """``/openapi/v2`` as Swagger 2.0 JSON covering every served type.

    kube-apiserver also offers this document as gnostic protobuf, which is
    what kubectl asks for; kubesim only speaks JSON (see the README's fidelity
    gaps). kubectl needs it only when ``/openapi/v3`` says a kind lacks
    server-side field validation, which never happens here.
    """

    def build():
        builder = _Builder(resources.all_types(), v2=True)
        paths = builder.paths()
        return {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": paths,
            "definitions": builder.schemas(),
            "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}],
        }

    return _cached(("v2",), build)[0]


# --------------------------------------------------------------------------
# Server-side strict field validation
# --------------------------------------------------------------------------


def _resolve(schema: dict, defs: dict) -> dict:
    """Follow ``$ref`` / single-element ``allOf`` wrappers to the schema that has the properties."""
    seen = 0
    while seen < 32:
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str):
            schema = defs.get(ref.rsplit("/", 1)[1], {})
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            schema = all_of[0]
            continue
        return schema
    return schema


class _DecoderPaths:
    """Field paths as the apiserver's strict decoder spells them: ``spec.containers[0].foo``, ``spec.hard[cpu]``."""

    @staticmethod
    def field(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    @staticmethod
    def map_entry(path: str, key: str) -> str:
        return f"{path}[{key}]" if path else key

    @staticmethod
    def list_item(path: str, index: int, item, schema: dict) -> str:
        return f"{path}[{index}]"


class _SmdPaths:
    """structured-merge-diff's spelling, used by server-side apply: ``.spec.containers[name="c"].foo``."""

    @staticmethod
    def field(path: str, key: str) -> str:
        return f"{path}.{key}"

    map_entry = field  # map entries are fields in SMD

    @staticmethod
    def list_item(path: str, index: int, item, schema: dict) -> str:
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        element = None
        if list_type == "map" and keys:
            element = _smd_key(item, keys)
        elif list_type == "set":
            element = f"[={json.dumps(item, separators=(',', ':'))}]"
        return path + (element or f"[{index}]")


def _walk_undeclared(value, schema: dict, path: str, defs: dict, out: list[str], paths=_DecoderPaths) -> None:
    """Append to ``out`` the path (spelled by ``paths``) of every field of ``value`` that ``schema`` does not declare."""
    schema = _resolve(schema, defs)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is not None:
            for key in value:
                sub = properties.get(key)
                child = paths.field(path, key)
                if sub is None:
                    out.append(child)
                else:
                    _walk_undeclared(value[key], sub, child, defs, out, paths)
        elif isinstance(additional, dict):
            for key, item in value.items():
                _walk_undeclared(item, additional, paths.map_entry(path, key), defs, out, paths)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk_undeclared(item, items, paths.list_item(path, index, item, schema), defs, out, paths)


def unknown_fields(rt: ResourceType, obj: dict) -> list[str]:
    """Paths of fields in ``obj`` that the kind's schema does not declare, in the apiserver's spelling.

    ``spec.template.spec.containers[0].foo``; map values are addressed as
    ``spec.hard[cpu]``. Custom resources only check the top level and
    ``metadata`` (their spec/status preserve unknown fields). Kinds without
    a schema yield nothing.
    """
    schema = schema_for(rt)
    if schema is None or not isinstance(obj, dict):
        return []
    defs = definitions()
    out: list[str] = []
    _walk_undeclared(obj, schema, "", defs, out)
    return out


def unknown_field_messages(rt: ResourceType, obj: dict) -> list[str]:
    """``unknown field "spec.foo"`` strings, for Warning headers under ``fieldValidation=Warn``."""
    return [f'unknown field "{path}"' for path in unknown_fields(rt, obj)]


def strict_decoding_error(rt: ResourceType, obj: dict) -> errors.StatusError | None:
    """The 400 kube-apiserver returns for unknown fields under ``fieldValidation=Strict`` (None if all fields are known).

    Same text as the real server: ``<Kind> in version "<v>" cannot be handled
    as a <Kind>: strict decoding error: unknown field "spec.foo", unknown field "spec.bar"``.
    """
    messages = unknown_field_messages(rt, obj)
    if not messages:
        return None
    return errors.bad_request(
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: ' + ", ".join(messages)
    )


def _prune(value, schema: dict, defs: dict) -> None:
    """Delete, in place, the fields ``schema`` does not declare (mirrors :func:`_walk_undeclared`)."""
    schema = _resolve(schema, defs)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is not None:
            for key in list(value):
                sub = properties.get(key)
                if sub is None:
                    del value[key]
                else:
                    _prune(value[key], sub, defs)
        elif isinstance(additional, dict):
            for item in value.values():
                _prune(item, additional, defs)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                _prune(item, items, defs)


def prune_unknown_fields(rt: ResourceType, obj: dict) -> None:
    """Drop undeclared fields from ``obj`` in place, as a real server does when it keeps a request
    under ``fieldValidation=Warn``/``Ignore``: built-in kinds decode into Go structs that have no
    place for them, custom resources are pruned by their structural schema."""
    schema = schema_for(rt)
    if schema is not None and isinstance(obj, dict):
        _prune(obj, schema, definitions())


def _smd_key(item: dict, keys: list[str]) -> str | None:
    """structured-merge-diff's PathElement for an associative-list item: ``[name="c"]``, ``[containerPort=80,protocol="TCP"]``."""
    if not isinstance(item, dict) or any(k not in item for k in keys):
        return None
    return "[" + ",".join(f"{k}={json.dumps(item[k], separators=(',', ':'))}" for k in keys) + "]"


def apply_schema_error(rt: ResourceType, obj: dict) -> errors.StatusError | None:
    """The error server-side apply gives for fields the schema does not declare (None if all are declared).

    Apply converts the configuration to a typed object before anything else
    and fails whatever ``fieldValidation`` says; the error is not an API
    status inside the apiserver, so it reaches the client as a 500 with no
    reason: ``failed to create typed patch object (ns/name; apps/v1,
    Kind=Deployment): .spec.foo: field not declared in schema`` (several
    fields: ``errors:`` then one indented line each).
    """
    schema = schema_for(rt)
    if schema is None or not isinstance(obj, dict):
        return None
    paths: list[str] = []
    _walk_undeclared(obj, schema, "", definitions(), paths, _SmdPaths)
    if not paths:
        return None
    problems = [f"{p}: field not declared in schema" for p in paths]
    detail = problems[0] if len(problems) == 1 else "\n".join(["errors:"] + ["  " + p for p in problems])
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    group_version = rt.api_version if "/" in rt.api_version else f"/{rt.api_version}"
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {group_version}, Kind={rt.kind}"
    return errors.StatusError(500, "", f"failed to create typed patch object ({where}): {detail}")


# --------------------------------------------------------------------------
# Regenerating the bundled definitions (development time)
# --------------------------------------------------------------------------


def _to_openapi3(node):
    """kubernetes-validate's JSON-schema dialect -> OpenAPI 3 as kube-apiserver writes it."""
    if isinstance(node, list):
        return [_to_openapi3(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            real = [t for t in value if t != "null"]
            out["type"] = real[0] if len(real) == 1 else real
        elif key == "$ref":
            out["$ref"] = value.replace("#/$defs/", "#/components/schemas/")
        elif key == "additionalProperties" and value is False:
            continue  # the -local (non-strict) schemas should not have it; be safe
        else:
            out[key] = _to_openapi3(value)
    # A $ref with siblings (description, default) is wrapped in allOf, as in the real v3 documents.
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def build_definitions(raw: dict) -> dict:
    """Select and convert the bundled definitions from a kubernetes-validate ``_definitions.json`` ``$defs`` map."""
    roots = [name for name in raw if name.startswith(_BUNDLED_PACKAGES)]
    selected = _closure(roots, raw)
    converted = {}
    for name, schema in sorted(selected.items()):
        schema = _to_openapi3(copy.deepcopy(schema))
        props = schema.get("properties") or {}
        # kubernetes-validate pins apiVersion/kind with enums; the real documents do not.
        for key in ("apiVersion", "kind"):
            if isinstance(props.get(key), dict):
                props[key].pop("enum", None)
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            # Real v3 documents: oneOf integer/string plus this format (what explain and validators key on).
            schema["format"] = "int-or-string"
        converted[name] = schema
    return converted


def main(argv: list[str] | None = None) -> int:
    """``python -m kubesim.openapi [1.32]``: regenerate kubesim/openapi_definitions.json.gz from kubernetes-validate."""
    argv = sys.argv[1:] if argv is None else argv
    version = argv[0] if argv else KUBE_VERSION.lstrip("v").rsplit(".", 1)[0]
    import kubernetes_validate

    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}.0-local" / "_definitions.json"
    converted = build_definitions(json.loads(source.read_text())["$defs"])
    data = json.dumps(converted, separators=(",", ":"), sort_keys=True).encode()
    DEFINITIONS_FILE.write_bytes(gzip.compress(data, mtime=0))
    print(f"wrote {len(converted)} definitions ({len(data)} bytes JSON) from {source} to {DEFINITIONS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
