"""Transport: the HTTPS listener, one thread per connection, reading requests and writing answers.

The :class:`Handler` reads a request (URL, body), passes it to ``APIServer.handle``
(the pipeline, :mod:`kubesim.server`) and offers the answer side to the REST
handlers: ``send_json``, ``send_raw``, chunked watch streams, ``Warning`` headers.
Each request is written to the request log just before its answer.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from . import errors
from .codec import encode_json
from .errors import StatusError
from .requestinfo import parse_request_info
from .types import UserInfo

log = logging.getLogger("kubesim.server")

MAX_BODY = 3 * 1024 * 1024


def tls_context(ca) -> ssl.SSLContext:
    """The serving context: the CA's serving certificate, client certificates optional (verified against the CA)."""
    # Built once per server: loading the chain per connection would cost milliseconds per request.
    cert_pem, key_pem = ca.serving_cert()
    state = Path(ca.state_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(state / "serving.crt", state / "serving.key")
    ctx.load_verify_locations(cadata=ca.ca_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def warning_header(text: str) -> str:
    """RFC 7234 warning value as kube-apiserver sends it: ``299 - "text"`` with quotes escaped."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pop_admission_warnings() -> list[str]:
    try:
        from .admission.plugin import pop_warnings
    except ImportError:
        return []
    return pop_warnings()


class HTTPSServer(ThreadingHTTPServer):
    """Accepts connections and runs each (TLS handshake included) in its own thread; ``close_connections`` cuts them all."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, api, ssl_context: ssl.SSLContext):
        self.api = api
        self.ssl_context = ssl_context
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        self._connections: set = set()  # open TLS connections, cut by close_connections()
        self._connections_changed = threading.Condition()
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # TLS handshake in the per-connection thread, never in the accept loop.
        try:
            request.settimeout(30)
            # Without TCP_NODELAY, header and body segments meet the client's delayed ACK: +40 ms per request.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_changed:
            if self.api.stopping.is_set():
                tls.close()
                return
            self._connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass
            with self._connections_changed:
                self._connections.discard(tls)
                self._connections_changed.notify_all()

    def close_connections(self, timeout: float = 5.0) -> None:
        """Cut every open connection and wait (up to ``timeout``) for their handler threads to finish."""
        with self._connections_changed:
            open_now = list(self._connections)
        for conn in open_now:
            try:
                # The plain socket's shutdown, not SSLSocket's: it only wakes the handler
                # thread blocked reading the next request, which then ends the connection.
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._connections_changed:
            while self._connections and time.monotonic() < deadline:
                self._connections_changed.wait(deadline - time.monotonic())

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, socket.timeout)):
            return
        log.exception("unhandled error serving %s", client_address)


class DropConnection(Exception):
    """Raised by fault injection to close the connection without answering."""


class Handler(BaseHTTPRequestHandler):
    """One connection's HTTP: reads requests, hands them to ``server.api.handle``, writes answers and streams."""

    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    # -------------------------------------------------------------- plumbing
    def _dispatch(self, method: str) -> None:
        api = self.server.api
        self._status = 0
        self._logged = False
        self.warnings: list[str] = []
        _pop_admission_warnings()  # a fresh request starts with no leftover admission warnings
        self.user: UserInfo | None = None  # set by the pipeline once authenticated, for the request log
        self._started = time.monotonic()
        split = urlsplit(self.path)
        path = split.path or "/"
        self._query = split.query
        query = parse_qs(split.query, keep_blank_values=True)
        info = self._info = parse_request_info(method, path, query)
        try:
            try:
                body = self._read_body()
                api.handle(self, method, path, query, info, body)
            except StatusError as exc:
                self._send_status(exc)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._status = 0
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # never let a bug kill the connection thread silently
            log.exception("internal error on %s %s", method, self.path)
            try:
                self._send_status(errors.internal_error(str(exc)))
            except OSError:
                self.close_connection = True
        finally:
            self._record(self._status)  # dropped connections and broken pipes are logged too

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    self.close_connection = True
                    raise errors.too_large()
            return bytes(data)
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise errors.bad_request("invalid Content-Length") from None
        if n > MAX_BODY:
            # Drain a moderately large body so the client gets to read our 413 (it is still
            # sending otherwise); beyond that, answer and close without reading.
            self.close_connection = True
            remaining = n if n <= 8 * MAX_BODY else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise errors.too_large()
        return self.rfile.read(n)

    def peer_cert(self) -> bytes | None:
        try:
            return self.connection.getpeercert(binary_form=True)
        except (AttributeError, ValueError, ssl.SSLError):
            return None

    def _record(self, code: int) -> None:
        self.warnings.extend(_pop_admission_warnings())
        self._record_log(code)

    def _record_log(self, code: int) -> None:
        """Write the request log entry just before answering, so a client that got its answer sees the entry."""
        self._status = code
        if self._logged:
            return
        self._logged = True
        api = self.server.api
        if api.request_log is not None:
            info = self._info
            api.request_log.record(
                user=self.user.name if self.user else "", verb=info.verb, method=self.command, path=info.path,
                status=code, resource=info.resource, subresource=info.subresource, namespace=info.namespace,
                duration=time.monotonic() - self._started, query=self._query, name=info.name,
                user_agent=self.headers.get("User-Agent", ""))

    def send_raw(self, code: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        self._record(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for text in self.warnings:
            self.send_header("Warning", warning_header(text))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: one TLS record, one TCP segment for small answers.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()

    def send_json(self, code: int, obj, headers: dict | None = None) -> None:
        self.send_raw(code, encode_json(obj).encode(), "application/json", headers)

    def _send_status(self, exc: StatusError) -> None:
        headers = dict(exc.headers)
        if exc.code == 401:
            headers.setdefault("WWW-Authenticate", 'Basic realm="kubernetes-master"')
        self.send_json(exc.code, exc.status(), headers)

    def start_stream(self) -> None:
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def peer_closed(self) -> bool:
        """True if the client has closed its side (readable with no data): a watch then ends."""
        import select

        conn = self.connection
        try:
            r, _, _ = select.select([conn], [], [], 0)
            if not r:
                return False
            if isinstance(conn, ssl.SSLSocket) and conn.pending():
                return False
            data = conn.recv(1) if not isinstance(conn, ssl.SSLSocket) else conn.recv(1)
            return not data
        except (OSError, ssl.SSLError, ValueError):
            return True
