"""Fault injection and the request log, for reliability tests and benchmarks.

A :class:`FaultInjector` holds rules matched per request on the RBAC verb
(``get``, ``list``, ``create``...), the resource plural and/or a path prefix.
A rule may add latency, fail a fraction of requests (500, 503, or 429 with
``Retry-After``), drop the connection without an answer, or fail only the next
N matching requests. Rules are set from CLI flags, the admin endpoint
``/kubesim/faults`` or the Python handle.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import asdict, dataclass, field

from . import errors

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
_ids = itertools.count(1)


@dataclass
class FaultRule:
    """One fault. Empty ``verbs``/``resources``/``path_prefix`` match everything."""

    verbs: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    path_prefix: str = ""
    latency: float = 0.0            # seconds added before handling
    error_rate: float = 0.0         # 0..1 probability of answering with ``status``
    status: int = 500               # 500, 503 or 429
    retry_after: int = 1            # seconds, for 429 (and 503)
    drop: bool = False              # close the connection without answering (with error_rate, or for fail_next)
    fail_next: int = 0              # fail exactly the next N matching requests, then stop failing
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self):
        self.verbs = tuple(v.lower() for v in ([self.verbs] if isinstance(self.verbs, str) else self.verbs))
        self.resources = tuple([self.resources] if isinstance(self.resources, str) else self.resources)
        if self.status not in (429, 500, 502, 503, 504):
            raise ValueError(f"status must be one of 429, 500, 502, 503, 504, not {self.status}")
        if not 0.0 <= float(self.error_rate) <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if self.latency < 0 or self.fail_next < 0:
            raise ValueError("latency and fail_next must not be negative")

    def matches(self, verb: str, resource: str, path: str) -> bool:
        if self.verbs and verb not in self.verbs and not ("write" in self.verbs and verb in WRITE_VERBS):
            return False
        if self.resources and resource not in self.resources:
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return True


def _error(rule: FaultRule) -> errors.StatusError:
    if rule.status == 429:
        return errors.too_many_requests(rule.retry_after)
    if rule.status == 503:
        exc = errors.service_unavailable()
        exc.headers["Retry-After"] = str(rule.retry_after)
        return exc
    if rule.status == 504:
        return errors.timeout()
    return errors.internal_error("injected fault")


class FaultInjector:
    """Thread-safe set of :class:`FaultRule` consulted before every request."""

    def __init__(self, seed: int | None = None):
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add_rule(self, **kwargs) -> dict:
        """Add a rule (keyword arguments of :class:`FaultRule`); returns it as a dict with its id."""
        kwargs.pop("id", None)
        rule = FaultRule(**kwargs)
        with self._lock:
            self._rules.append(rule)
        return asdict(rule)

    # Convenience wrappers used by tests and CLI flags.
    def latency(self, seconds: float, verbs=(), resources=()) -> dict:
        return self.add_rule(latency=seconds, verbs=verbs, resources=resources)

    def error_rate(self, rate: float, status: int = 500, verbs=(), resources=(), retry_after: int = 1) -> dict:
        return self.add_rule(error_rate=rate, status=status, verbs=verbs, resources=resources, retry_after=retry_after)

    def fail_next(self, n: int, status: int = 500, verbs=(), resources=(), drop: bool = False, retry_after: int = 1) -> dict:
        return self.add_rule(fail_next=n, status=status, verbs=verbs, resources=resources, drop=drop, retry_after=retry_after)

    def drop_connections(self, rate: float = 1.0, verbs=(), resources=()) -> dict:
        return self.add_rule(error_rate=rate, drop=True, verbs=verbs, resources=resources)

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def before(self, verb: str, resource: str, path: str, method: str = "",
               stopping: threading.Event | None = None) -> str | None:
        """Apply matching rules: sleep, raise a StatusError, or return ``"drop"`` to close the connection.

        The admin endpoint itself is never faulted, so tests can always turn faults off.
        ``stopping`` (the server's) cuts an injected latency short: a server going
        down drops the request instead of answering it late, and its stop() does
        not wait out the latency.
        """
        if path.startswith("/kubesim/"):
            return None
        delay = 0.0
        action: FaultRule | None = None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(verb, resource, path):
                    continue
                delay += rule.latency
                if action is not None:
                    continue
                if rule.fail_next > 0:
                    rule.fail_next -= 1
                    action = rule
                    if rule.fail_next == 0 and not rule.latency and not rule.error_rate:
                        self._rules.remove(rule)
                elif rule.error_rate and self._random.random() < rule.error_rate:
                    action = rule
        if delay:
            if stopping is None:
                time.sleep(delay)
            elif stopping.wait(delay):
                return "drop"
        if action is None:
            return None
        if action.drop:
            return "drop"
        raise _error(action)


@dataclass(frozen=True)
class RequestLogEntry:
    time: float
    user: str
    verb: str
    method: str
    path: str
    status: int
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    duration: float = 0.0
    query: str = ""
    name: str = ""  # the object addressed, or created (a POST to a collection names it in the body)
    user_agent: str = ""

    @property
    def dry_run(self) -> bool:
        return "dryRun=All" in self.query

    @property
    def is_write(self) -> bool:
        """A request that may have persisted a change: a write verb, not a server-side dry run."""
        return self.verb in WRITE_VERBS and not self.dry_run


class RequestLog:
    """Every request served: (time, user, verb, path, status) and a few extras; bounded.

    ``clear()`` starts a new window for ``entries()``/``writes()`` (what a
    test looks at after its set-up); ``history()`` still has everything
    since start, for checks that span the whole run.
    """

    def __init__(self, max_entries: int = 100_000):
        self._entries: list[RequestLogEntry] = []
        self._lock = threading.Lock()
        self._max = max_entries
        self._window = 0  # index in _entries where entries() starts

    def record(self, **kwargs) -> None:
        entry = RequestLogEntry(time=time.time(), **kwargs)
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self._max:
                dropped = len(self._entries) - self._max
                del self._entries[:dropped]
                self._window = max(0, self._window - dropped)

    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return self._entries[self._window:]

    def history(self) -> list[RequestLogEntry]:
        """Every entry kept, including those before the last ``clear()``."""
        with self._lock:
            return list(self._entries)

    def writes(self, resource: str | None = None) -> list[RequestLogEntry]:
        """Write requests (create/update/patch/delete/deletecollection; dry runs are not), optionally for one resource."""
        return [e for e in self.entries() if e.is_write and (resource is None or e.resource == resource)]

    def clear(self) -> None:
        with self._lock:
            self._window = len(self._entries)

    def as_dicts(self) -> list[dict]:
        return [asdict(e) for e in self.entries()]
