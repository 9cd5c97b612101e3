"""PATCH semantics and field management.

* JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch
  (list merge by key for the built-in kinds kubesim serves, ``$patch`` directives);
* :class:`FieldManager`: ``metadata.managedFields`` for every write and
  server-side apply (ownership, conflicts, removal of fields a manager stopped
  applying), after ``k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`` and
  ``sigs.k8s.io/structured-merge-diff``.

kubesim has no OpenAPI schema at hand at run time, so list semantics come from
a table of the real ``patchMergeKey``/``listMapKeys`` of the kinds it serves
(:func:`list_key`); all other lists are atomic, as for custom resources.
"""

from __future__ import annotations

import datetime as dt
import json

from . import errors, resources
from .resources import ResourceType
from .store import clone

# ------------------------------------------------------------ list semantics
# field name -> merge key, for lists inside a pod template / pod spec / status.
_POD_LIST_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
SET = "<set>"  # a list of scalars merged as a set (finalizers)


def list_key(rt: ResourceType | None, path: tuple[str, ...]) -> str | None:
    """The merge key of the list at ``path`` (field names only), :data:`SET`, or None for atomic lists."""
    if not path:
        return None
    field = path[-1]
    if path == ("metadata", "finalizers"):
        return SET
    if path == ("metadata", "ownerReferences"):
        return "uid"
    if rt is not None and resources.is_custom(rt):
        return None
    if field == "conditions" and path[0] == "status":
        return "type"
    if rt is not None and rt.group == "rbac.authorization.k8s.io":
        return None  # rules and subjects are atomic
    if field == "ports":
        if len(path) >= 2 and path[-2] in ("containers", "initContainers", "ephemeralContainers"):
            return "containerPort"
        if rt is not None and (rt.group, rt.plural) == ("", "services"):
            return "port"
        return None
    if field in _POD_LIST_KEYS and (rt is None or rt.plural in ("pods", "deployments")):
        return _POD_LIST_KEYS[field]
    if field == "finalizers" and path == ("spec", "finalizers"):
        return SET
    return None


# ----------------------------------------------------------------- json patch
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchError(f'JSON pointer must start with "/": {path!r}')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


class _PatchError(Exception):
    pass


def _walk(doc, parts: list[str]):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _PatchError(f"doc is missing path: /{'/'.join(parts)}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                idx = int(p)
            except ValueError:
                raise _PatchError(f"invalid array index: {p}") from None
            if not 0 <= idx < len(cur):
                raise _PatchError(f"array index out of bounds: {idx}")
            cur = cur[idx]
        else:
            raise _PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return cur


def _json_patch(doc, ops) -> dict:
    if not isinstance(ops, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise errors.bad_request("Unexpected kind: missing op")
        kind = op["op"]
        try:
            parts = _pointer(op.get("path", ""))
            if kind in ("add", "replace", "test"):
                if "value" not in op:
                    raise _PatchError(f"missing value for {kind} operation")
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise _PatchError(f"testing value /{'/'.join(parts)} failed: test failed")
                continue
            if kind in ("move", "copy"):
                src = _pointer(op.get("from", ""))
                value = clone(_walk(doc, src))
                if kind == "move":
                    _remove(doc, src)
                doc = _add(doc, parts, value)
            elif kind == "add":
                doc = _add(doc, parts, clone(op["value"]))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                _walk(doc, parts)  # must exist
                if not parts:
                    doc = clone(op["value"])
                else:
                    parent = _walk(doc, parts[:-1])
                    if isinstance(parent, list):
                        parent[int(parts[-1])] = clone(op["value"])
                    else:
                        parent[parts[-1]] = clone(op["value"])
            else:
                raise errors.bad_request(f"Unexpected kind: {kind}")
        except _PatchError as exc:
            raise errors.StatusError(422, "Invalid", f"the server rejected our request due to an error in our request: {exc}") from None
    return doc


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise _PatchError(f"invalid array index: {last}") from None
            if not 0 <= idx <= len(parent):
                raise _PatchError(f"array index out of bounds: {idx}")
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc, parts):
    if not parts:
        raise _PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        try:
            del parent[int(last)]
        except (ValueError, IndexError):
            raise _PatchError(f"array index out of bounds: {last}") from None
    elif isinstance(parent, dict) and last in parent:
        del parent[last]
    else:
        raise _PatchError(f"doc is missing path: /{'/'.join(parts)}")


# ---------------------------------------------------------------- merge patch
def merge_patch(target, patch_doc):
    """RFC 7386."""
    if not isinstance(patch_doc, dict):
        return clone(patch_doc)
    result = clone(target) if isinstance(target, dict) else {}
    for k, v in patch_doc.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ------------------------------------------------------ strategic merge patch
def strategic_merge(rt: ResourceType | None, target, patch_doc, path: tuple[str, ...] = ()):
    """Strategic merge patch of ``patch_doc`` onto ``target`` (both JSON-shaped)."""
    if not isinstance(patch_doc, dict):
        return clone(patch_doc)
    directive = patch_doc.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch_doc.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = clone(target) if isinstance(target, dict) else {}
    retain = patch_doc.get("$retainKeys")
    for k, v in patch_doc.items():
        if k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(v, list):
                result[field] = [x for x in result[field] if x not in v]
            continue
        sub_path = path + (k,)
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list):
            key = list_key(rt, sub_path)
            result[k] = _merge_list(rt, result.get(k), v, key, sub_path)
        elif isinstance(v, dict):
            merged = strategic_merge(rt, result.get(k), v, sub_path)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = v
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(rt, current, patch_list, key, path):
    if key is None:
        return [_strip_directives(x) for x in patch_list]
    current = clone(current) if isinstance(current, list) else []
    if key == SET:
        for item in patch_list:
            if item not in current:
                current.append(item)
        return current
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch_list):
        return [_strip_directives(x) for x in patch_list if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    for item in patch_list:
        if not isinstance(item, dict):
            raise errors.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        if key not in item:
            raise errors.bad_request(f"map: {json.dumps(item)} does not contain declared merge key: {key}")
        idx = next((i for i, cur in enumerate(current) if isinstance(cur, dict) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del current[idx]
            continue
        if idx is None:
            current.append(_strip_directives(item))
        else:
            current[idx] = strategic_merge(rt, current[idx], item, path)
    return current


def _strip_directives(value):
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def apply_patch(patch_type: str, live: dict, body: bytes, rt: ResourceType) -> dict:
    """Apply a ``json``/``merge``/``strategic`` patch body to ``live``; 400/422 on bad patches."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None
    if patch_type == "json":
        return _json_patch(live, doc)
    if not isinstance(doc, dict):
        raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    if patch_type == "merge":
        return merge_patch(live, doc)
    if patch_type == "strategic":
        return strategic_merge(rt, live, doc)
    raise errors.unsupported_media_type(patch_type)


# ============================================================= field manager
# A path is a tuple of elements: ("f", name) | ("k", json-of-key) | ("v", json-value).
_IGNORED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generateName"}


def manager_from_user_agent(user_agent: str) -> str:
    """The default field manager: the User-Agent up to the first '/', as the real server does."""
    name = (user_agent or "unknown").split("/", 1)[0]
    return name[:128] or "unknown"


def _leaf_paths(rt, obj, out: set, path: tuple = (), names: tuple = (), top_exclude=()) -> None:
    """All owned field paths of ``obj``: leaves plus list items (a keyed list item owns itself)."""
    if isinstance(obj, dict) and (obj or not path):
        for k, v in obj.items():
            if not path and k in ("apiVersion", "kind") or (not path and k in top_exclude):
                continue
            if path == (("f", "metadata"),) and k in _IGNORED_META:
                continue
            _leaf_paths(rt, v, out, path + (("f", k),), names + (k,))
        return
    if isinstance(obj, list) and obj:
        key = list_key(rt, names)
        if key == SET:
            for item in obj:
                out.add(path + (("v", json.dumps(item, sort_keys=True, separators=(",", ":"))),))
            return
        if key is not None and all(isinstance(x, dict) and key in x for x in obj):
            for item in obj:
                item_path = path + (("k", json.dumps({key: item[key]}, sort_keys=True, separators=(",", ":"))),)
                out.add(item_path)
                for k, v in item.items():
                    _leaf_paths(rt, v, out, item_path + (("f", k),), names + (k,))
            return
    if path:
        out.add(path)


def _get(obj, path):
    """Value at ``path`` or a sentinel when absent."""
    cur = obj
    for kind, val in path:
        if kind == "f":
            if not isinstance(cur, dict) or val not in cur:
                return _MISSING
            cur = cur[val]
        elif kind == "k":
            keyd = json.loads(val)
            if not isinstance(cur, list):
                return _MISSING
            cur = next((x for x in cur if isinstance(x, dict) and all(x.get(a) == b for a, b in keyd.items())), _MISSING)
            if cur is _MISSING:
                return _MISSING
        elif kind == "v":
            item = json.loads(val)
            if not isinstance(cur, list) or item not in cur:
                return _MISSING
            cur = item
    return cur


_MISSING = object()


def _remove_path(obj, path) -> None:
    parent = _get(obj, path[:-1]) if len(path) > 1 else obj
    if parent is _MISSING:
        return
    kind, val = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(val, None)
    elif kind == "k" and isinstance(parent, list):
        keyd = json.loads(val)
        parent[:] = [x for x in parent if not (isinstance(x, dict) and all(x.get(a) == b for a, b in keyd.items()))]
    elif kind == "v" and isinstance(parent, list):
        item = json.loads(val)
        parent[:] = [x for x in parent if x != item]


def _path_string(path) -> str:
    """fieldpath.Path.String(): ``.spec.containers[name="app"].image``."""
    out = ""
    for kind, val in path:
        if kind == "f":
            out += "." + val
        elif kind == "k":
            keyd = json.loads(val)
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(keyd.items())) + "]"
        elif kind == "v":
            out += f"[={val}]"
    return out


def to_fields_v1(paths: set) -> dict:
    """Encode a path set as ``fieldsV1`` (``{"f:spec": {"f:replicas": {}}}``, ``"."`` marks owned list items)."""
    root: dict = {}
    for path in sorted(paths, key=lambda p: [list(e) for e in p]):
        node = root
        for i, (kind, val) in enumerate(path):
            key = f"{kind}:{val}"
            node = node.setdefault(key, {})
            if i == len(path) - 1 and kind == "k":
                node.setdefault(".", {})
    return root


def from_fields_v1(fields: dict, prefix: tuple = ()) -> set:
    """Decode ``fieldsV1`` into a path set (inverse of :func:`to_fields_v1`)."""
    out: set = set()
    if not isinstance(fields, dict):
        return out
    for key, child in fields.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        kind, _, val = key.partition(":")
        if kind not in ("f", "k", "v", "i"):
            continue
        path = prefix + ((kind, val),)
        if not child:
            out.add(path)
        else:
            out |= from_fields_v1(child, path)
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_apply(rt, live, cfg, names=()):
    """Merge an applied configuration onto the live object (keyed lists by key, others replaced)."""
    if isinstance(live, dict) and isinstance(cfg, dict):
        out = clone(live)
        for k, v in cfg.items():
            out[k] = _merge_apply(rt, live.get(k), v, names + (k,)) if k in live else clone(v)
        return out
    if isinstance(live, list) and isinstance(cfg, list):
        key = list_key(rt, names)
        if key == SET:
            out = clone(live)
            for item in cfg:
                if item not in out:
                    out.append(clone(item))
            return out
        if key is not None and all(isinstance(x, dict) and key in x for x in cfg + live):
            out = clone(live)
            for item in cfg:
                idx = next((i for i, x in enumerate(out) if x.get(key) == item[key]), None)
                if idx is None:
                    out.append(clone(item))
                else:
                    out[idx] = _merge_apply(rt, out[idx], item, names)
            return out
    return clone(cfg)


class FieldManager:
    """Maintains ``metadata.managedFields`` and implements server-side apply."""

    @staticmethod
    def _entries(obj: dict | None) -> list[dict]:
        if not obj:
            return []
        return [clone(e) for e in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(e, dict)]

    @staticmethod
    def _exclude(rt: ResourceType, subresource: str) -> tuple:
        if subresource == "status":
            return ("metadata", "spec")
        return ("status",) if "status" in rt.subresources else ()

    def _paths(self, rt, obj, subresource) -> set:
        out: set = set()
        if subresource == "status":
            _leaf_paths(rt, {"status": obj.get("status")} if obj.get("status") is not None else {}, out)
        else:
            _leaf_paths(rt, obj, out, top_exclude=self._exclude(rt, subresource))
        return out

    def update(self, rt: ResourceType, old: dict | None, new: dict, manager: str, subresource: str = "") -> dict:
        """Record a non-apply write by ``manager``: it takes the fields this write changed."""
        new = clone(new)
        entries = self._entries(old) if old is not None else []
        old_paths = self._paths(rt, old, subresource) if old is not None else set()
        new_paths = self._paths(rt, new, subresource)
        changed = {p for p in new_paths if p not in old_paths or _get(old, p) != _get(new, p)}
        removed = old_paths - new_paths
        parsed = []
        for e in entries:
            paths = from_fields_v1(e.get("fieldsV1") or {})
            mine = e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource", "") == subresource
            paths -= removed
            if not mine:
                paths -= changed
            parsed.append((e, paths, mine))
        found = False
        result = []
        for e, paths, mine in parsed:
            if mine:
                found = True
                paths |= changed
                if paths != from_fields_v1(e.get("fieldsV1") or {}) or changed:
                    e["time"] = _now()
            if paths:
                e["fieldsV1"] = to_fields_v1(paths)
                result.append(e)
        if not found and changed:
            entry = {"manager": manager, "operation": "Update", "apiVersion": rt.api_version, "time": _now(),
                     "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(changed)}
            if subresource:
                entry["subresource"] = subresource
            result.append(entry)
        new.setdefault("metadata", {})["managedFields"] = result
        if not result:
            new["metadata"].pop("managedFields", None)
        return new

    def apply(self, rt: ResourceType, live: dict | None, cfg: dict, manager: str, force: bool, subresource: str = "") -> dict:
        """Server-side apply of ``cfg`` by ``manager`` onto ``live`` (None: create). Raises 409 on conflicts."""
        cfg = clone(cfg)
        cfg_meta = cfg.get("metadata") or {}
        for k in list(cfg_meta):
            if k in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
                cfg_meta.pop(k)
        base = clone(live) if live is not None else {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {}}
        applied_paths = self._paths(rt, cfg, subresource)
        entries = self._entries(live)
        parsed = []
        previous: set = set()
        for e in entries:
            paths = from_fields_v1(e.get("fieldsV1") or {})
            mine = e.get("manager") == manager and e.get("operation") == "Apply" and e.get("subresource", "") == subresource
            if mine:
                previous = paths
            parsed.append([e, paths, mine])
        # Conflicts: a field another manager owns, set here to a different value.
        conflicts = []
        for e, paths, mine in parsed:
            if mine:
                continue
            for p in sorted(applied_paths & paths, key=_path_string):
                if p[-1][0] == "k":
                    continue  # owning a list item is shared; its fields decide
                if _get(base, p) != _get(cfg, p):
                    conflicts.append((e, p))
        if conflicts and not force:
            raise _conflict_error(conflicts)
        if force:
            for entry in parsed:
                if not entry[2]:
                    entry[1] = entry[1] - {p for _e, p in conflicts}
        merged = _merge_apply(rt, base, {k: v for k, v in cfg.items() if k not in ("apiVersion", "kind")})
        merged["apiVersion"], merged["kind"] = rt.api_version, rt.kind
        # Fields this manager applied before but not now are removed unless someone else owns them.
        others: set = set()
        for _entry, paths, mine in parsed:
            if not mine:
                others |= paths
        for p in sorted(previous - applied_paths, key=len, reverse=True):
            if p in others or any(o[: len(p)] == p for o in others):
                continue
            _remove_path(merged, p)
        result = []
        found = False
        for e, paths, mine in parsed:
            if mine:
                found = True
                if paths != applied_paths or _strip_mf(merged) != _strip_mf(base):
                    e["time"] = _now()
                e["fieldsV1"] = to_fields_v1(applied_paths)
                e["apiVersion"] = rt.api_version
                result.append(e)
            elif paths:
                e["fieldsV1"] = to_fields_v1(paths)
                result.append(e)
        if not found:
            entry = {"manager": manager, "operation": "Apply", "apiVersion": rt.api_version, "time": _now(),
                     "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(applied_paths)}
            if subresource:
                entry["subresource"] = subresource
            result.append(entry)
        merged.setdefault("metadata", {})["managedFields"] = result
        return merged


def _strip_mf(obj: dict) -> dict:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def _print_manager(entry: dict) -> str:
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f' with subresource {json.dumps(entry["subresource"])}'
    if entry.get("operation") == "Update" and entry.get("time"):
        return f"{text} using {entry.get('apiVersion', '')} at {entry['time']}"
    return f"{text} using {entry.get('apiVersion', '')}"


def _conflict_error(conflicts: list) -> errors.StatusError:
    """The 409 of fieldmanager/internal/conflict.go, with one cause per conflicting field."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_print_manager(e)}", "field": _path_string(p)}
              for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(e)}: {_path_string(p)}"
    else:
        by_manager: dict[str, list] = {}
        for e, p in conflicts:
            by_manager.setdefault(_print_manager(e), []).append(p)
        lines = []
        for mgr in sorted(by_manager):
            lines.append(f"conflicts with {mgr}:")
            lines += [f"- {_path_string(p)}" for p in by_manager[mgr]]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})
