"""Thread-safe object store with persistence, a global resourceVersion and watches.

The store is the etcd of kubesim. It knows nothing about users, RBAC or
admission: the server calls it after those checks. Objects live in memory
(dicts keyed by resource type, namespace and name) and every committed write is
also written to SQLite in WAL mode in the state directory, so a restart keeps
objects and the resourceVersion counter. WAL with ``synchronous=NORMAL`` costs
tens of microseconds per commit, which keeps 1,000 creates well under a second
of store time.

Watches read from a bounded in-memory event history; resuming from a
resourceVersion older than the history answers 410 Expired like the real
server's watch cache.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from . import errors, resources
from .resources import ResourceType

log = logging.getLogger(__name__)

HISTORY_SIZE = 20000
CONFLICT_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"

Listener = Callable[[ResourceType, str, dict, "dict | None"], None]


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (second precision, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj):
    """A fast deep copy for JSON-shaped data (dicts, lists, scalars)."""
    if isinstance(obj, dict):
        return {k: clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clone(v) for v in obj]
    return obj


def _type_key(rt: ResourceType) -> str:
    return f"{rt.group}/{rt.plural}"


def _strip_volatile(obj: dict) -> dict:
    """The object without fields that change on every write, to detect no-op updates."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("generation", None)
    if meta.get("managedFields"):
        meta["managedFields"] = [{k: v for k, v in mf.items() if k != "time"} for mf in meta["managedFields"]]
    out["metadata"] = meta
    return out


def _spec_part(obj: dict) -> dict:
    """Everything that counts as 'spec' for generation: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """In-memory object store persisted to ``state_dir/objects.db`` (or memory only if ``state_dir`` is None)."""

    def __init__(self, state_dir: Path | None = None, history_size: int = HISTORY_SIZE):
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], dict]] = collections.defaultdict(dict)
        # Names per namespace per type: a list in one namespace reads that namespace only (as etcd's key
        # prefix does), never every object of the type.
        self._by_ns: dict[str, dict[str, set[str]]] = collections.defaultdict(lambda: collections.defaultdict(set))
        # Keys per label (key, value) per type: a label-selected list reads the matching objects only.
        self._by_label: dict[str, dict[tuple[str, str], set[tuple[str, str]]]] = collections.defaultdict(
            lambda: collections.defaultdict(set))
        self._rv = 0
        self._history: collections.deque = collections.deque(maxlen=history_size)
        self._listeners: list[Listener] = []
        self._db: sqlite3.Connection | None = None
        self._closed = False
        if state_dir is not None:
            self._open(Path(state_dir) / "objects.db")
        # Events older than this rv are not in the history: resuming there is 410.
        self._history_start = self._rv

    # ------------------------------------------------------------ persistence
    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS objects (tkey TEXT, ns TEXT, name TEXT, data TEXT, PRIMARY KEY (tkey, ns, name))")
        db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        row = db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        self._rv = int(row[0]) if row else 0
        for tkey, ns, name, data in db.execute("SELECT tkey, ns, name, data FROM objects"):
            obj = json.loads(data)
            self._objects[tkey][(ns, name)] = obj
            self._by_ns[tkey][ns].add(name)
            self._index_labels(tkey, (ns, name), None, obj)
        self._db = db

    def _persist(self, tkey: str, ns: str, name: str, obj: dict | None) -> None:
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            if obj is None:
                db.execute("DELETE FROM objects WHERE tkey=? AND ns=? AND name=?", (tkey, ns, name))
            else:
                db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?)", (tkey, ns, name, json.dumps(obj, separators=(",", ":"))))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the database and wake every watcher so it can end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            if self._db is not None:
                self._db.close()
                self._db = None

    # --------------------------------------------------------------- reading
    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        return str(self._rv)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict | None:
        """A deep copy of the object, or None."""
        with self._lock:
            obj = self._objects[_type_key(rt)].get((namespace or "" if rt.namespaced else "", name))
            return clone(obj) if obj is not None else None

    def _index_labels(self, tkey: str, key: tuple[str, str], old: dict | None, new: dict | None) -> None:
        index = self._by_label[tkey]
        for obj, add in ((old, False), (new, True)):
            for pair in ((obj or {}).get("metadata", {}).get("labels") or {}).items():
                if add:
                    index[pair].add(key)
                else:
                    index[pair].discard(key)

    def _keys(self, rt: ResourceType, namespace: str | None, label_terms=()) -> list[tuple[str, str]]:
        """Keys of ``rt`` (in ``namespace``; carrying the ``label_terms`` values) in etcd's order, by the string
        ``namespace/name`` (caller holds the lock). The indexes narrow the keys; the caller's predicate still decides."""
        tkey = _type_key(rt)
        candidates: set | None = None
        for label, values in label_terms:
            matching = set().union(*(self._by_label[tkey].get((label, value), ()) for value in values))
            candidates = matching if candidates is None else candidates & matching
        if namespace and rt.namespaced:
            in_namespace = {(namespace, name) for name in self._by_ns[tkey].get(namespace, ())}
            candidates = in_namespace if candidates is None else candidates & in_namespace
        keys = list(self._objects[tkey]) if candidates is None else list(candidates)
        keys.sort(key=lambda k: f"{k[0]}/{k[1]}")
        return keys

    def list(self, rt: ResourceType, namespace: str | None = None) -> tuple[list[dict], str]:
        """Copies of all objects of ``rt`` (in ``namespace`` if given), sorted like etcd keys, and the list rv."""
        with self._lock:
            bucket = self._objects[_type_key(rt)]
            return [clone(bucket[k]) for k in self._keys(rt, namespace)], str(self._rv)

    def select(self, rt: ResourceType, namespace: str | None = None, *, match=None, after: str = "",
               limit: int = 0, label_terms=()) -> tuple[list[dict], str, int | None]:
        """One page of a list: objects after the key ``after`` that ``match``, at most ``limit`` (0: all).

        Only the page is copied; the predicate reads the stored objects. Returns
        (items, rv, remaining): ``remaining`` is how many objects follow the
        page (None when there is no next page; for a filtered list only "some": 1).
        """
        with self._lock:
            bucket = self._objects[_type_key(rt)]
            keys = self._keys(rt, namespace, label_terms)
            if after:
                keys = [k for k in keys if f"{k[0]}/{k[1]}" > after]
            page: list[dict] = []
            for i, key in enumerate(keys):
                obj = bucket[key]
                if match is not None and not match(obj):
                    continue
                if limit and len(page) == limit:
                    # At least this object follows; unfiltered lists know exactly how many (remainingItemCount).
                    return [clone(o) for o in page], str(self._rv), len(keys) - i if match is None else 1
                page.append(obj)
            return [clone(o) for o in page], str(self._rv), None

    def count(self, rt: ResourceType, namespace: str | None = None) -> int:
        """How many objects of ``rt`` exist (in ``namespace``), without copying them."""
        with self._lock:
            if namespace and rt.namespaced:
                return len(self._by_ns[_type_key(rt)].get(namespace, ()))
            return len(self._objects[_type_key(rt)])

    # --------------------------------------------------------------- writing
    def _key(self, rt: ResourceType, obj: dict) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return (meta.get("namespace", "") if rt.namespaced else "", meta.get("name", ""))

    def _commit(self, rt: ResourceType, event_type: str, obj: dict, old: dict | None) -> dict:
        """Record a write (caller holds the lock and has set obj's rv); returns a copy for the caller."""
        tkey = _type_key(rt)
        key = self._key(rt, obj)
        previous = self._objects[tkey].get(key)
        if event_type == "DELETED":
            self._objects[tkey].pop(key, None)
            self._by_ns[tkey][key[0]].discard(key[1])
            self._index_labels(tkey, key, previous, None)
            self._persist(tkey, key[0], key[1], None)
        else:
            self._objects[tkey][key] = obj
            self._by_ns[tkey][key[0]].add(key[1])
            self._index_labels(tkey, key, previous, obj)
            self._persist(tkey, key[0], key[1], obj)
        self._history.append((self._rv, tkey, key[0], event_type, obj, old))
        self._cond.notify_all()
        return clone(obj)

    def _notify(self, rt: ResourceType, event_type: str, obj: dict, old: dict | None) -> None:
        # Listeners run after the lock is released, in the writer's thread, so
        # controllers may write back to the store and tests see effects synchronously.
        for fn in list(self._listeners):
            try:
                fn(rt, event_type, clone(obj), clone(old) if old is not None else None)
            except Exception:  # a broken controller must never break the write that triggered it
                log.exception("store listener %r failed", fn)

    def create(self, rt: ResourceType, obj: dict) -> dict:
        """Store a new object: sets uid, resourceVersion, creationTimestamp, generation=1.

        Raises 409 AlreadyExists if the name is taken.
        """
        obj = clone(obj)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta = obj.setdefault("metadata", {})
        if not rt.namespaced:
            meta.pop("namespace", None)
        with self._lock:
            key = self._key(rt, obj)
            if key in self._objects[_type_key(rt)]:
                raise errors.already_exists(rt.group, rt.plural, meta.get("name", ""))
            self._rv += 1
            meta["uid"] = str(uuid.uuid4())
            meta["resourceVersion"] = str(self._rv)
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(k, None)
            result = self._commit(rt, "ADDED", obj, None)
        self._notify(rt, "ADDED", result, None)
        return result

    def update(self, rt: ResourceType, obj: dict, *, subresource: str = "") -> dict:
        """Replace an object (or one subresource of it).

        * a set ``metadata.resourceVersion`` must match the stored one (else 409 Conflict);
        * ``subresource="status"`` changes only ``.status``; ``"approval"`` only ``.status.conditions``;
          a main-resource write keeps the stored ``.status`` for kinds with a status subresource;
        * uid, creationTimestamp and deletionTimestamp cannot change;
        * generation is bumped only when the non-metadata, non-status content changes;
        * if nothing changed the stored object is returned unchanged (same rv, no event);
        * removing the last finalizer from an object being deleted deletes it.
        """
        meta_in = obj.get("metadata") or {}
        ns = meta_in.get("namespace", "") if rt.namespaced else ""
        name = meta_in.get("name", "")
        with self._lock:
            old = self._objects[_type_key(rt)].get((ns, name))
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            rv_in = meta_in.get("resourceVersion")
            if rv_in and rv_in != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.group, rt.plural, name, CONFLICT_MESSAGE)
            new = self._merge_subresource(rt, old, obj, subresource)
            meta = new["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in old["metadata"]:
                    meta[k] = old["metadata"][k]
                else:
                    meta.pop(k, None)
            meta["generation"] = old["metadata"].get("generation", 1)
            if _spec_part(new) != _spec_part(old):
                meta["generation"] += 1
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if _strip_volatile(new) == _strip_volatile(old):
                return clone(old)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            if meta.get("deletionTimestamp") and not meta.get("finalizers") and rt.plural != "namespaces":
                result = self._commit(rt, "DELETED", new, old)
                event = "DELETED"
            else:
                result = self._commit(rt, "MODIFIED", new, old)
                event = "MODIFIED"
            old_copy = clone(old)
        self._notify(rt, event, result, old_copy)
        return result

    def _merge_subresource(self, rt: ResourceType, old: dict, obj: dict, subresource: str) -> dict:
        if subresource == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = clone(obj["status"])
            else:
                new.pop("status", None)
            return new
        if subresource == "approval":
            new = clone(old)
            conditions = (obj.get("status") or {}).get("conditions")
            status = new.setdefault("status", {})
            if conditions:
                status["conditions"] = clone(conditions)
            else:
                status.pop("conditions", None)
            return new
        new = clone(obj)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        new.setdefault("metadata", {})
        if not rt.namespaced:
            new["metadata"].pop("namespace", None)
        if subresource == "" and "status" in rt.subresources:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        return new

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> dict:
        """Delete an object; if it carries ``metadata.finalizers`` it is only marked (deletionTimestamp).

        Returns the deleted (or marked) object; 404 if missing.
        """
        ns = namespace or "" if rt.namespaced else ""
        with self._lock:
            old = self._objects[_type_key(rt)].get((ns, name))
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return clone(old)
                new = clone(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                self._rv += 1
                new["metadata"]["resourceVersion"] = str(self._rv)
                result = self._commit(rt, "MODIFIED", new, old)
                event = "MODIFIED"
            else:
                new = clone(old)
                self._rv += 1
                new["metadata"]["resourceVersion"] = str(self._rv)
                result = self._commit(rt, "DELETED", new, old)
                event = "DELETED"
            old_copy = clone(old)
        self._notify(rt, event, result, old_copy)
        return result

    def mark_terminating(self, rt: ResourceType, name: str) -> dict:
        """Start deleting a namespace: deletionTimestamp + ``status.phase: Terminating`` (idempotent)."""
        with self._lock:
            old = self._objects[_type_key(rt)].get(("", name))
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            if old["metadata"].get("deletionTimestamp"):
                return clone(old)
            new = clone(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new.setdefault("status", {})["phase"] = "Terminating"
            self._rv += 1
            new["metadata"]["resourceVersion"] = str(self._rv)
            result = self._commit(rt, "MODIFIED", new, old)
            old_copy = clone(old)
        self._notify(rt, "MODIFIED", result, old_copy)
        return result

    # --------------------------------------------------------------- watching
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(rt, event_type, obj, old)`` after every committed write."""
        self._listeners.append(fn)

    def watch(self, rt: ResourceType, namespace: str | None, resource_version: str | None,
              stop: threading.Event, timeout: float | None = None, idle: bool = False) -> Iterator[dict]:
        """Events for ``rt`` (in ``namespace``) after ``resource_version``.

        With no resourceVersion (or "0") the current objects come first as ADDED
        events, as the real server does. Raises 410 Expired *before* returning the
        iterator when the requested version is older than the event history, and
        400 for a non-numeric version. With ``idle=True`` the iterator also yields
        ``None`` on quiet ticks (about every 0.25 s) so a server can notice a gone client.
        """
        tkey = _type_key(rt)
        ns_filter = namespace if (namespace and rt.namespaced) else None
        with self._lock:
            initial: list[dict] = []
            if resource_version in (None, "", "0"):
                start = self._rv
                bucket = self._objects[tkey]
                for key in sorted(bucket):
                    if ns_filter is None or key[0] == ns_filter:
                        initial.append({"type": "ADDED", "object": clone(bucket[key])})
            else:
                try:
                    start = int(resource_version)
                except ValueError:
                    raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
                if len(self._history) == self._history.maxlen:
                    oldest = self._history[0][0] - 1
                else:
                    oldest = self._history_start
                if start < oldest:
                    raise errors.resource_expired(f"too old resource version: {start} ({oldest + 1})")
        return self._watch_iter(tkey, ns_filter, start, initial, stop, timeout, idle)

    def _watch_iter(self, tkey, ns_filter, start, initial, stop, timeout, idle) -> Iterator[dict]:
        import time as _time

        yield from initial
        last = start
        deadline = _time.monotonic() + timeout if timeout else None
        while not stop.is_set() and not self._closed:
            batch = []
            with self._cond:
                if not self._history or self._history[-1][0] <= last:
                    self._cond.wait(0.25)
                for rv, etkey, ens, etype, eobj, eold in self._pending(last):
                    last = rv
                    if etkey == tkey and (ns_filter is None or ens == ns_filter):
                        # oldObject lets a filtered watch turn "stopped matching" into DELETED, as the watch cache does.
                        batch.append({"type": etype, "object": clone(eobj), "oldObject": eold})
            yield from batch
            if idle and not batch:
                yield None
            if deadline is not None and _time.monotonic() >= deadline:
                return

    def _pending(self, last: int):
        """History entries newer than ``last`` (caller holds the lock)."""
        hist = self._history
        if not hist or hist[-1][0] <= last:
            return []
        # Walk from the end: watchers are nearly always close to the head.
        out = []
        for entry in reversed(hist):
            if entry[0] <= last:
                break
            out.append(entry)
        out.reverse()
        return out


def type_key(rt: ResourceType) -> str:
    """The store's internal bucket name for a type (exposed for diagnostics)."""
    return _type_key(rt)


__all__ = ["Store", "clone", "now_rfc3339", "CONFLICT_MESSAGE", "resources"]
