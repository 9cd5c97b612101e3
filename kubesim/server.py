"""The kubesim API server: assembles the request pipeline, as kube-apiserver's handler chain.

Per request: transport -> request info -> health checks -> authentication ->
faults -> impersonation -> authorization -> body decoding -> defaulting/validation ->
admission -> store -> response -> request log. Where each stage lives:

* HTTPS, connections, reading requests, writing answers, the request log: :mod:`kubesim.transport`
* what the URL addresses (RequestInfo): :mod:`kubesim.requestinfo`
* health checks, authentication, faults, impersonation: :meth:`APIServer.handle` below
  (:mod:`kubesim.authn`, :mod:`kubesim.faults`)
* authorization and the REST semantics per verb: :mod:`kubesim.handlers`
* body decoding: :mod:`kubesim.codec`; defaulting/validation: :mod:`kubesim.validation`;
  admission: :mod:`kubesim.admission`; store: :mod:`kubesim.store`
* discovery documents: :mod:`kubesim.discovery`; Table printing for ``kubectl get``: :mod:`kubesim.tableprinting`

The security pieces (``Authenticator``, ``Authorizer``, ``Admission``) are
injected so the server can be tested with fakes; ``kubesim.testing`` and
``kubesim.__main__`` wire the real ones.
"""

from __future__ import annotations

import threading

from . import patch, transport
from .handlers import Request
from .requestinfo import RequestInfo
from .store import Store

UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


class APIServer:
    """The kubesim API server. ``start()`` serves in a background thread; ``serve_forever()`` blocks."""

    def __init__(self, store: Store, ca, authenticator, authorizer, admission, *, host: str = "127.0.0.1",
                 port: int = 0, faults=None, request_log=None, field_managers: patch.FieldManager | None = None):
        self.store = store
        self.ca = ca
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.admission = admission
        self.faults = faults
        self.request_log = request_log
        self.fields = field_managers or patch.FieldManager()
        self.stopping = threading.Event()
        self._httpd = transport.HTTPSServer((host, port), transport.Handler, self, transport.tls_context(ca))
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> APIServer:
        """Serve in a daemon thread and return immediately."""
        # stop() waits for the accept loop to notice the shutdown request, up to
        # one poll interval: 0.1 s made every test's kubesim teardown cost ~0.12 s.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="kubesim-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop accepting, end open watches, close the listening socket and every open connection.

        Open keep-alive connections are cut too: a client holding a pooled
        connection must see the server go away, as with a real API server
        going down, not keep getting answers from a "stopped" cluster.
        """
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.close_connections()

    def handle(self, h: transport.Handler, method: str, path: str, query: dict, info: RequestInfo, body: bytes) -> None:
        """One request, its body read: health checks, authentication, faults, impersonation, then the REST handlers."""
        if path in UNAUTHENTICATED_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            h.send_raw(200, b"ok", "text/plain; charset=utf-8")
            return
        user = self.authenticator.authenticate(h.peer_cert(), h.headers)
        h.user = user
        # Faults after authentication so the request log names who was failed.
        if self.faults is not None:
            action = self.faults.before(info.verb, info.resource, path, method, stopping=self.stopping)
            if action == "drop":
                raise transport.DropConnection()
        if any(name.lower().startswith("impersonate-") for name in h.headers.keys()):
            user = self.authenticator.impersonate(user, h.headers, self.authorizer)
        h.user = user
        Request(self, h, method, path, query, info, body, user).handle()
