"""Reads and writes of stored objects: get, list, create, update, patch (incl. server-side apply), delete.

A write goes: body decoding -> field validation -> defaulting/validation ->
admission -> managed fields -> store.
"""

from __future__ import annotations

import uuid

from .. import errors, patch, resources, validation
from ..codec import decode_body
from ..errors import StatusError
from ..resources import ResourceType
from ..store import CONFLICT_MESSAGE, now_rfc3339
from ..tableprinting import to_table, wants_table
from . import listoptions
from .subresources import validate_approval

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
# Kinds whose DELETE answers with the object rather than a Status (graceful deletion / namespaces).
RETURN_OBJECT_ON_DELETE = frozenset({("", "pods"), ("", "namespaces")})


def _dry_run(query: dict, options: dict | None = None) -> bool:
    values = list(query.get("dryRun", []))
    if options and options.get("dryRun"):
        values += list(options["dryRun"])
    for v in values:
        if v != "All":
            raise errors.StatusError(400, "BadRequest", f'Invalid dry run value: "{v}"')
    return bool(values)


class CRUDHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    # ---------------------------------------------------------------- reads
    def get(self, rt: ResourceType) -> None:
        obj = self.api.store.get(rt, self.info.namespace, self.info.name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        if wants_table(self.h.headers.get("Accept", "")) and not self.info.subresource:
            return self.h.send_json(200, to_table(rt, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                                  self.q("includeObject") or "Metadata"))
        self.h.send_json(200, obj)

    def list(self, rt: ResourceType) -> None:
        ns = self.info.namespace if rt.namespaced else None
        match, filtered = listoptions.selection(rt, self.q("labelSelector"), self.q("fieldSelector"))
        cont = self.q("continue")
        start = listoptions.decode_continue(cont) if cont else ""
        limit = 0
        limit_s = self.q("limit")
        if limit_s:
            try:
                limit = max(int(limit_s), 0)
            except ValueError:
                raise errors.bad_request(f'limit: Invalid value: "{limit_s}"') from None
        # Only the page is copied out of the store, and a namespaced list reads that namespace only.
        items, rv, remaining = self.api.store.select(rt, ns, match=match if filtered else None, after=start, limit=limit,
                                                     label_terms=match.equality_terms)
        meta: dict = {"resourceVersion": rv}
        if remaining is not None:
            meta["continue"] = listoptions.encode_continue(rv, _sort_key(items[-1]))
            if not filtered:
                meta["remainingItemCount"] = remaining
        if wants_table(self.h.headers.get("Accept", "")):
            return self.h.send_json(200, to_table(rt, items, meta, self.q("includeObject") or "Metadata"))
        self.h.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items})

    # -------------------------------------------------------------- writes
    def _body_object(self, rt: ResourceType) -> dict:
        obj = decode_body(self.body, self.h.headers.get("Content-Type", "application/json"), expected_kind=rt.kind)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != rt.kind and not (self.info.subresource and rt.plural in ("serviceaccounts",)):
            version = (api_version or rt.api_version).split("/")[-1]
            other = resources.by_kind(api_version or "", kind)
            if other is None:
                raise errors.bad_request(
                    f'{kind} in version "{version}" cannot be handled as a {rt.kind}: no kind "{kind}" is registered '
                    f'for version "{api_version}" in scheme "pkg/api/legacyscheme/scheme.go:30"')
            raise errors.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {rt.kind}: converting ({kind}) to ({rt.kind}): '
                f"unknown conversion")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = meta = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                                     f"json: cannot unmarshal {type(meta).__name__} into Go struct field "
                                     f"{rt.kind}.metadata of type v1.ObjectMeta")
        self._scope_namespace(rt, meta)
        return obj

    def _scope_namespace(self, rt: ResourceType, meta: dict) -> None:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        ns = self.info.namespace
        if meta.get("namespace") and meta["namespace"] != ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns

    def _field_manager(self, required: bool = False) -> str:
        manager = self.q("fieldManager")
        if not manager:
            if required:
                raise errors.bad_request("PATCH request to an apply endpoint requires a fieldManager: fieldManager is required for apply requests")
            manager = patch.manager_from_user_agent(self.h.headers.get("User-Agent", ""))
        if len(manager) > 128:
            raise errors.StatusError(422, "Invalid", 'fieldManager: Too long: may not be more than 128 bytes')
        return manager

    def _admit(self, operation: str, rt: ResourceType, obj: dict | None, old: dict | None, dry_run: bool) -> dict | None:
        result = self.api.admission.admit(operation, rt, obj, old, self.user, self.info.subresource, dry_run)
        return obj if result is None else result

    def _reject_unknown_query(self) -> None:
        fv = self.q("fieldValidation")
        if fv and fv not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{fv}": supported values: "Ignore", "Warn", "Strict"')

    def _check_fields(self, rt: ResourceType, obj: dict) -> None:
        """Server-side field validation: Strict rejects unknown fields (400), Warn (default) adds Warning headers.

        Under Warn and Ignore the unknown fields are then dropped from ``obj``, as
        the real server never stores them.

        Custom resources are checked too: their schemas in kubesim.openapi
        declare the top level and metadata, and preserve unknown fields below
        ``spec``/``status`` (see kubesim/README.md).
        """
        mode = self.q("fieldValidation") or "Warn"
        from .. import openapi

        if mode == "Ignore":
            openapi.prune_unknown_fields(rt, obj)
            return
        if mode == "Strict":
            err = openapi.strict_decoding_error(rt, obj)
            if err is not None:
                raise err
        else:
            messages = openapi.unknown_field_messages(rt, obj)
            if messages:
                self.h.warnings.extend(messages)
                openapi.prune_unknown_fields(rt, obj)

    def _check_apply_fields(self, rt: ResourceType, cfg: dict) -> None:
        """Server-side apply types the configuration against the schema first: undeclared fields fail (500),
        whatever ``fieldValidation`` says (the apply path has no Ignore/Warn for them)."""
        from .. import openapi

        err = openapi.apply_schema_error(rt, cfg)
        if err is not None:
            raise err

    def create(self, rt: ResourceType) -> None:
        self._reject_unknown_query()
        obj = self._body_object(rt)
        if isinstance(obj.get("metadata"), dict) and isinstance(obj["metadata"].get("name"), str):
            self.info.name = self.info.name or obj["metadata"]["name"]  # for the request log
        self._check_fields(rt, obj)
        dry_run = _dry_run(self.query)
        validation.apply_generate_name(obj)
        if "status" in rt.subresources:
            obj.pop("status", None)  # PrepareForCreate resets status for kinds with a status subresource
        validation.apply_defaults(rt, obj)
        validation.validate_create(rt, obj)
        obj = self._admit("CREATE", rt, obj, None, dry_run)
        obj = self.api.fields.update(rt, None, obj, self._field_manager(), self.info.subresource)
        self._commit_create(rt, obj, dry_run)

    def _commit_create(self, rt: ResourceType, obj: dict, dry_run: bool) -> None:
        if dry_run:
            existing = self.api.store.get(rt, (obj["metadata"]).get("namespace"), obj["metadata"]["name"])
            if existing is not None:
                raise errors.already_exists(rt.group, rt.plural, obj["metadata"]["name"])
            obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            obj["metadata"]["creationTimestamp"] = now_rfc3339()
            obj["metadata"]["generation"] = 1
            return self.h.send_json(201, obj)
        self.h.send_json(201, self.api.store.create(rt, obj))

    def _check_name(self, obj: dict) -> None:
        meta = obj["metadata"]
        if not meta.get("name"):
            meta["name"] = self.info.name
        elif meta["name"] != self.info.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({self.info.name})")

    def update(self, rt: ResourceType) -> None:
        self._reject_unknown_query()
        obj = self._body_object(rt)
        self._check_fields(rt, obj)
        self._check_name(obj)
        dry_run = _dry_run(self.query)
        old = self.api.store.get(rt, self.info.namespace, self.info.name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        self._finish_update(rt, obj, old, dry_run, self._field_manager())

    def _finish_update(self, rt: ResourceType, obj: dict, old: dict, dry_run: bool, manager: str | None,
                       managed_done: bool = False) -> None:
        sub = self.info.subresource
        target = self._status_update_target(rt, obj, old)
        if sub == "approval":
            validate_approval(rt, target)
        if sub not in ("status", "approval", "finalize"):
            validation.validate_update(rt, target, old)
        target = self._admit("UPDATE", rt, target, old, dry_run)
        if not managed_done:
            target = self.api.fields.update(rt, old, target, manager, sub)
        rv_in = obj["metadata"].get("resourceVersion")
        if rv_in and rv_in != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.group, rt.plural, self.info.name, CONFLICT_MESSAGE)
        if dry_run:
            return self.h.send_json(200, target)
        # The store re-checks the precondition under its lock (another writer may have won meanwhile).
        if rv_in:
            target["metadata"]["resourceVersion"] = rv_in
        else:
            target["metadata"].pop("resourceVersion", None)
        store_sub = sub if sub in ("status", "approval") else ""
        result = self.api.store.update(rt, target, subresource=store_sub)
        self.h.send_json(200, result)

    def patch(self, rt: ResourceType) -> None:
        self._reject_unknown_query()
        ctype = self.h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None:
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     f"the body of the request was in an unknown format - accepted media types include: "
                                     f"{', '.join(PATCH_TYPES)}")
        dry_run = _dry_run(self.query)
        force_s = self.q("force")
        if force_s and ptype != "apply":
            raise errors.StatusError(422, "Invalid", "force: Forbidden: may not be specified for non-apply patch")
        if ptype == "strategic" and resources.is_custom(rt):
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format - accepted media types include: "
                                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        old = self.api.store.get(rt, self.info.namespace, self.info.name)
        if ptype == "apply":
            return self.apply(rt, old, dry_run, force_s in ("true", "1"))
        if old is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        if not self.body:
            raise errors.bad_request("the body of the request was empty")
        new = patch.apply_patch(ptype, old, self.body, rt)
        if not isinstance(new, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = {}
        self._check_fields(rt, new)
        if new.get("kind") != rt.kind or new.get("apiVersion") != rt.api_version:
            new["kind"], new["apiVersion"] = rt.kind, rt.api_version
        new["metadata"]["name"] = self.info.name
        self._scope_namespace(rt, new["metadata"])
        if not new["metadata"].get("resourceVersion"):
            new["metadata"]["resourceVersion"] = ""
        # A patch carrying a resourceVersion is a precondition; one without is applied to the current object.
        rv_in = new["metadata"].get("resourceVersion")
        if not rv_in or rv_in == old["metadata"]["resourceVersion"]:
            new["metadata"].pop("resourceVersion", None)
        else:
            raise errors.conflict(rt.group, rt.plural, self.info.name, CONFLICT_MESSAGE)
        self._finish_update(rt, new, old, dry_run, self._field_manager())

    def apply(self, rt: ResourceType, old: dict | None, dry_run: bool, force: bool) -> None:
        manager = self._field_manager(required=True)
        cfg = decode_body(self.body, "application/apply-patch+yaml")
        api_version, kind = cfg.get("apiVersion"), cfg.get("kind")
        if not api_version or not kind:
            raise errors.bad_request("invalid object type: " + (f"/{api_version or ''}, Kind={kind or ''}"))
        if kind != rt.kind or api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
                if kind == rt.kind else
                f'{kind} in version "{api_version.split("/")[-1]}" cannot be handled as a {rt.kind}: unknown kind')
        meta = cfg.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") and meta["name"] != self.info.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({self.info.name})")
        meta["name"] = self.info.name
        self._scope_namespace(rt, meta)
        self._check_apply_fields(rt, cfg)
        sub = self.info.subresource
        if old is None:
            if sub:
                raise errors.not_found(rt.group, rt.plural, self.info.name)
            new = self.api.fields.apply(rt, None, cfg, manager, force, sub)
            if "status" in rt.subresources:
                new.pop("status", None)
            validation.apply_defaults(rt, new)
            validation.validate_create(rt, new)
            new = self._admit("CREATE", rt, new, None, dry_run)
            return self._commit_create(rt, new, dry_run)
        new = self.api.fields.apply(rt, old, cfg, manager, force, sub)
        if _same_object(new, old):
            # Re-applying the same configuration: nothing to write, the resourceVersion stays.
            return self.h.send_json(200, old)
        new["metadata"].pop("resourceVersion", None)
        self._finish_update(rt, new, old, dry_run, manager, managed_done=True)

    def delete(self, rt: ResourceType) -> None:
        options = self._delete_options()
        dry_run = _dry_run(self.query, options)
        store = self.api.store
        ns, name = self.info.namespace, self.info.name
        old = store.get(rt, ns, name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise errors.conflict(rt.group, rt.plural, name,
                                  f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata'].get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"].get("resourceVersion"):
            raise errors.conflict(rt.group, rt.plural, name,
                                  f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                                  f"ResourceVersion in object meta: {old['metadata'].get('resourceVersion')}")
        self._admit("DELETE", rt, None, old, dry_run)
        if dry_run:
            return self.h.send_json(200, old if (rt.group, rt.plural) in RETURN_OBJECT_ON_DELETE else _success(rt, old))
        if (rt.group, rt.plural) == ("", "namespaces"):
            return self.h.send_json(200, store.mark_terminating(rt, name))
        result = store.delete(rt, ns, name)
        if (rt.group, rt.plural) in RETURN_OBJECT_ON_DELETE or result["metadata"].get("deletionTimestamp"):
            return self.h.send_json(200, result)
        self.h.send_json(200, _success(rt, result))

    def _delete_options(self) -> dict:
        options: dict = {}
        if self.body.strip():
            options = decode_body(self.body, self.h.headers.get("Content-Type", "application/json"))
        policy = options.get("propagationPolicy") or self.q("propagationPolicy")
        if policy and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.StatusError(
                422, "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                f'supported values: "Foreground", "Background", "Orphan", "nil"',
                {"kind": "DeleteOptions", "group": "meta.k8s.io", "causes": [{"reason": "FieldValueNotSupported",
                 "message": f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
                 "field": "propagationPolicy"}]})
        grace = options.get("gracePeriodSeconds", self.q("gracePeriodSeconds") or None)
        if grace is not None:
            try:
                if int(grace) < 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from None
        return options

    def delete_collection(self, rt: ResourceType) -> None:
        options = self._delete_options()
        dry_run = _dry_run(self.query, options)
        ns = self.info.namespace if rt.namespaced else None
        match, _ = listoptions.selection(rt, self.q("labelSelector"), self.q("fieldSelector"))
        items, rv = self.api.store.list(rt, ns)
        deleted = []
        for obj in items:
            if not match(obj):
                continue
            self._admit("DELETE", rt, None, obj, dry_run)
            if dry_run:
                deleted.append(obj)
                continue
            try:
                deleted.append(self.api.store.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"]))
            except StatusError as exc:
                if exc.code != 404:
                    raise
        self.h.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                               "metadata": {"resourceVersion": self.api.store.resource_version}, "items": deleted})


def _success(rt: ResourceType, obj: dict) -> dict:
    details = {"name": obj["metadata"]["name"], "kind": rt.plural, "uid": obj["metadata"].get("uid", "")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _sort_key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _same_object(a: dict, b: dict) -> bool:
    def strip(o):
        o = dict(o)
        m = dict(o.get("metadata") or {})
        m.pop("resourceVersion", None)
        if m.get("managedFields"):
            m["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in m["managedFields"]]
        o["metadata"] = m
        return o

    return strip(a) == strip(b)
