"""Watch: a chunked stream of ADDED/MODIFIED/DELETED events, filtered by selectors, with bookmarks."""

from __future__ import annotations

import threading
import time

from .. import errors
from ..codec import encode_json
from ..errors import StatusError
from ..resources import ResourceType
from ..tableprinting import to_table, wants_table
from . import listoptions


class WatchHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    def watch(self, rt: ResourceType) -> None:
        store = self.api.store
        ns = self.info.namespace if rt.namespaced else None
        match, filtered = listoptions.selection(rt, self.q("labelSelector"), self.q("fieldSelector"))
        if self.info.name:  # /watch/namespaces/x/pods/name (legacy): watch one object
            filtered = True
            name = self.info.name
            base_match = match
            match = lambda o: base_match(o) and (o.get("metadata") or {}).get("name") == name  # noqa: E731
        try:
            timeout = float(self.q("timeoutSeconds") or 1800)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        rv = self.q("resourceVersion") or None
        stop = threading.Event()
        try:
            events = store.watch(rt, ns, rv, stop, timeout=timeout, idle=True)
        except StatusError as exc:
            if exc.code != 410:
                raise
            # Like the watch cache: a 200 stream whose only event is an ERROR carrying the 410 Status.
            self.h.start_stream()
            self.h.write_chunk(encode_json({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            self.h.end_stream()
            return
        bookmarks = self.q("allowWatchBookmarks") in ("true", "1")
        table = wants_table(self.h.headers.get("Accept", ""))
        self.h.start_stream()
        last_bookmark = time.monotonic()
        try:
            for event in events:
                if self.api.stopping.is_set():
                    break
                if event is None:
                    # Idle tick: probe the connection so a closed client ends the watch promptly.
                    if bookmarks and time.monotonic() - last_bookmark > 5:
                        self.h.write_chunk(encode_json({"type": "BOOKMARK", "object": {
                            "kind": rt.kind, "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": store.resource_version}}}).encode() + b"\n")
                        last_bookmark = time.monotonic()
                    elif self.h.peer_closed():
                        break
                    continue
                obj = event["object"]
                etype = event["type"]
                if filtered:
                    old = event.get("oldObject")
                    now_match = match(obj)
                    was_match = old is not None and match(old)
                    if etype == "MODIFIED":
                        if now_match and not was_match:
                            etype = "ADDED"
                        elif was_match and not now_match:
                            etype = "DELETED"
                        elif not now_match:
                            continue
                    elif not now_match:
                        continue
                if table:
                    obj = to_table(rt, [obj], {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")},
                                   self.q("includeObject") or "Metadata")
                self.h.write_chunk(encode_json({"type": etype, "object": obj}).encode() + b"\n")
        finally:
            stop.set()
        self.h.end_stream()
