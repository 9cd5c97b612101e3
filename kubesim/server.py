"""The HTTPS API server: routing, the request pipeline and the REST semantics.

Pipeline per request (as kube-apiserver's handler chain):
route -> faults -> authentication -> impersonation -> authorization ->
body decoding -> defaulting/validation -> admission -> store -> response -> request log.

The security pieces (``Authenticator``, ``Authorizer``, ``Admission``) are
injected so this module can be tested with fakes; ``kubesim.testing`` and
``kubesim.__main__`` wire the real ones.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import errors, gojson, patch, resources, validation
from .errors import StatusError
from .resources import ResourceType
from .store import CONFLICT_MESSAGE, Store, clone, now_rfc3339
from .types import Attributes, UserInfo

log = logging.getLogger("kubesim.server")

MAX_BODY = 3 * 1024 * 1024
KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim", "gitCommit": "kubesim",
                "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
                "compiler": "gc", "platform": "linux/amd64"}
UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
# Kinds whose DELETE answers with the object rather than a Status (graceful deletion / namespaces).
RETURN_OBJECT_ON_DELETE = frozenset({("", "pods"), ("", "namespaces")})

_json_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class RequestInfo:
    """What a URL addresses, as k8s.io/apiserver's RequestInfo."""

    __slots__ = ("resource_request", "path", "verb", "group", "version", "namespace", "resource", "name",
                 "subresource", "rt", "parts")

    def __init__(self, path: str):
        self.path = path
        self.resource_request = False
        self.verb = ""
        self.group = self.version = self.namespace = self.resource = self.name = self.subresource = ""
        self.rt: ResourceType | None = None
        self.parts: list[str] = []


def parse_request_info(method: str, path: str, query: dict) -> RequestInfo:
    """Split an API path into group/version/namespace/resource/name/subresource and the RBAC verb."""
    info = RequestInfo(path)
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    info.parts = parts
    http_verb = method.lower()
    if not parts or parts[0] not in ("api", "apis"):
        info.verb = http_verb
        return info
    if parts[0] == "api":
        if len(parts) < 3:
            info.verb = http_verb
            return info
        info.group, info.version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            info.verb = http_verb
            return info
        info.group, info.version, rest = parts[1], parts[2], parts[3:]
    info.resource_request = True
    watch_prefix = False
    if rest and rest[0] == "watch":  # deprecated /watch/ paths kubectl no longer uses, kept for old clients
        watch_prefix = True
        rest = rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        # As k8s.io/apiserver's RequestInfoFactory: /namespaces/<ns>/<resource>... scopes a resource,
        # except the namespace's own subresources (status, finalize).
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    if rest:
        info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = "/".join(rest[2:])
    is_collection = not info.name
    if method == "GET":
        if watch_prefix or query.get("watch", [""])[0] in ("true", "1"):
            info.verb = "watch"
        else:
            info.verb = "list" if is_collection else "get"
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "deletecollection" if is_collection else "delete"
    else:
        info.verb = http_verb
    info.rt = resources.lookup(info.group, info.version, info.resource)
    return info


# ------------------------------------------------------------------ selectors
def parse_label_selector(text: str):
    """Parse a label selector into a predicate on a labels dict; 400 BadRequest with the real parser's message."""
    from . import labelselectors

    try:
        return labelselectors.parse(text)
    except labelselectors.SelectorError as exc:
        raise errors.bad_request(str(exc)) from None


_FIELD_GETTERS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
}
_EXTRA_FIELDS = {
    ("", "pods"): {
        "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
        "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
        "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
        "spec.restartPolicy": lambda o: (o.get("spec") or {}).get("restartPolicy", ""),
        "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
    },
    ("", "namespaces"): {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
    ("", "secrets"): {"type": lambda o: o.get("type", "")},
    ("", "events"): {
        f"involvedObject.{k}": (lambda k: lambda o: str((o.get("involvedObject") or {}).get(k, "")))(k)
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    } | {"reason": lambda o: o.get("reason", ""), "type": lambda o: o.get("type", ""),
         "source": lambda o: (o.get("source") or {}).get("component", "")},
    ("certificates.k8s.io", "certificatesigningrequests"): {"spec.signerName": lambda o: (o.get("spec") or {}).get("signerName", "")},
}


def parse_field_selector(rt: ResourceType, text: str):
    """Parse a field selector (``a=b,c!=d``) for ``rt``; 400 ``field label not supported`` for unknown fields."""
    getters = dict(_FIELD_GETTERS)
    getters.update(_EXTRA_FIELDS.get((rt.group, rt.plural), {}))
    reqs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", part)
        if not m:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in getters:
            raise errors.bad_request(f'field label not supported: {field}')
        reqs.append((getters[field], op != "!=", value))

    def match(obj: dict) -> bool:
        return all((getter(obj) == value) == eq for getter, eq, value in reqs)

    return match


def _encode_continue(rv: str, start_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start_key + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> str:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1" or not isinstance(raw.get("start"), str):
            raise ValueError
        return raw["start"].rstrip("\x00")
    except (ValueError, TypeError, AttributeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


def warning_header(text: str) -> str:
    """RFC 7234 warning value as kube-apiserver sends it: ``299 - "text"`` with quotes escaped."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pop_admission_warnings() -> list[str]:
    try:
        from .admission.plugin import pop_warnings
    except ImportError:
        return []
    return pop_warnings()


# --------------------------------------------------------------- body decode
def _reject_constant(name: str):
    # Python's json accepts NaN/Infinity; Go's does not (the scanner then words the error).
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(body: bytes):
    """Parse a JSON body like Go's ``json.Unmarshal`` would, raising ``ValueError`` with Go's error text.

    Python's C parser does the work; only on failure does the (slow, exact)
    port of Go's scanner in :mod:`kubesim.gojson` find the message Go gives.
    """
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        message = gojson.syntax_error(body) or "exceeded max depth"
        raise ValueError(message) from None
    except (ValueError, UnicodeDecodeError):
        pass
    message = gojson.syntax_error(body)
    if message is None:
        # Syntactically valid for Go: invalid UTF-8 in a string, which Go decodes as U+FFFD.
        try:
            return json.loads(body.decode("utf-8", "replace"), parse_constant=_reject_constant)
        except RecursionError:
            message = "exceeded max depth"
        except ValueError as exc:  # not expected: the scanner and Python agree on everything else
            message = str(exc)
    raise ValueError(message)


def decode_body(body: bytes, content_type: str, expected_kind: str | None = None) -> dict:
    """Decode a request body (JSON, YAML or protobuf) into a JSON-shaped dict with the real 400/415 errors.

    ``expected_kind`` is the kind of the resource a create/update addresses:
    decode errors then read like apiserver's ``transformDecodeError`` (``the
    object provided is unrecognized (must be of type Namespace): couldn't get
    version/kind; json parse error: ... ({"kind": ...)``), protobuf errors name
    that kind, and a ``null`` body decodes to an empty object as in Go.
    """
    ctype = (content_type or "application/json").split(";")[0].strip().lower()
    if ctype == "application/vnd.kubernetes.protobuf":
        from . import protobuf

        # protobuf.decode words its own errors like transformDecodeError when it knows the kind.
        data = protobuf.decode(body, expected_kind=expected_kind)
    else:
        try:
            data = _decode_text(body, ctype)
        except errors.StatusError as exc:
            if expected_kind is None or exc.code != 400:
                raise
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {expected_kind}): "
                                     f"{exc.message} ({gojson.summarize(body)})") from None
    if expected_kind is not None and data is None:
        return {}
    if not isinstance(data, dict):
        snippet = body[:200].decode("utf-8", "replace")
        raise errors.bad_request(f"Object 'Kind' is missing in '{snippet}'")
    return data


def _decode_text(body: bytes, ctype: str):
    """JSON or YAML body -> Python value; 400 with the Go wording for what meta.go's Interpret rejects."""
    if ctype in ("application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", ""):
        try:
            data = parse_json(body)
        except ValueError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    elif ctype in ("application/yaml", "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: yaml: {_yaml_error(exc)}") from None
        except RecursionError:
            raise errors.bad_request("error converting YAML to JSON: yaml: exceeded max depth") from None
        data = _json_safe(data)
    else:
        raise errors.unsupported_media_type(ctype)
    type_error = gojson.type_error(data)
    if type_error is not None:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {type_error}")
    return data


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return problem


def _json_safe(value):
    """YAML can produce dates and non-string keys; coerce to what JSON would carry."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# ------------------------------------------------------------------ server
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
        self._ssl = self._ssl_context()
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext:
        # Built once: loading the chain per connection would cost milliseconds per request.
        cert_pem, key_pem = self.ca.serving_cert()
        state = Path(self.ca.state_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(state / "serving.crt", state / "serving.key")
        ctx.load_verify_locations(cadata=self.ca.ca_pem.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, api: APIServer):
        self.api = api
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
            tls = self.api._ssl.wrap_socket(request, server_side=True)
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


class _DropConnection(Exception):
    """Raised by fault injection to close the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
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
        api: APIServer = self.server.api
        self._status = 0
        self._logged = False
        self.warnings: list[str] = []
        _pop_admission_warnings()  # a fresh request starts with no leftover admission warnings
        self._user: UserInfo | None = None
        self._started = time.monotonic()
        split = urlsplit(self.path)
        path = split.path or "/"
        self._query = split.query
        query = parse_qs(split.query, keep_blank_values=True)
        info = self._info = parse_request_info(method, path, query)
        try:
            try:
                body = self._read_body()
                if path in UNAUTHENTICATED_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
                    self._send_raw(200, b"ok", "text/plain; charset=utf-8")
                    return
                user = api.authenticator.authenticate(self._peer_cert(), self.headers)
                self._user = user
                # Faults after authentication so the request log names who was failed.
                if api.faults is not None:
                    action = api.faults.before(info.verb, info.resource, path, method, stopping=api.stopping)
                    if action == "drop":
                        raise _DropConnection()
                if any(h.lower().startswith("impersonate-") for h in self.headers.keys()):
                    user = api.authenticator.impersonate(user, self.headers, api.authorizer)
                self._user = user
                Request(api, self, method, path, query, info, body, user).handle()
            except StatusError as exc:
                self._send_status(exc)
        except _DropConnection:
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

    def _peer_cert(self) -> bytes | None:
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
        api: APIServer = self.server.api
        if api.request_log is not None:
            info = self._info
            api.request_log.record(
                user=self._user.name if self._user else "", verb=info.verb, method=self.command, path=info.path,
                status=code, resource=info.resource, subresource=info.subresource, namespace=info.namespace,
                duration=time.monotonic() - self._started, query=self._query, name=info.name,
                user_agent=self.headers.get("User-Agent", ""))

    def _send_raw(self, code: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
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
        self._send_raw(code, _json_dumps(obj).encode(), "application/json", headers)

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


# ------------------------------------------------------------------ requests
def _dry_run(query: dict, options: dict | None = None) -> bool:
    values = list(query.get("dryRun", []))
    if options and options.get("dryRun"):
        values += list(options["dryRun"])
    for v in values:
        if v != "All":
            raise errors.StatusError(400, "BadRequest", f'Invalid dry run value: "{v}"')
    return bool(values)


class Request:
    """One API request, after authentication."""

    def __init__(self, api: APIServer, handler: _Handler, method: str, path: str, query: dict, info: RequestInfo,
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

    # ---------------------------------------------------------------- entry
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
            if rt.verbs == resources.CREATE_ONLY:
                raise errors.method_not_supported(rt.group, rt.plural, info.verb)
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

    # ------------------------------------------------------- non-resource
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
            from . import openapi
        except ImportError:
            raise errors.not_found_path() from None
        if path == "/openapi/v2":
            data = openapi.v2_document()
            return self.h._send_raw(200, data, "application/json")
        if path == "/openapi/v3":
            return self.h.send_json(200, openapi.v3_index())
        if path.startswith("/openapi/v3/"):
            doc = openapi.v3_document(path[len("/openapi/v3/"):])
            if doc is None:
                raise errors.not_found_path()
            if isinstance(doc, (bytes, bytearray)):
                return self.h._send_raw(200, bytes(doc), "application/json")
            return self.h.send_json(200, doc)
        raise errors.not_found_path()

    # --------------------------------------------------------------- admin
    def admin(self) -> None:
        if "system:masters" not in self.user.groups:
            raise errors.forbidden("", "", "", f'User "{self.user.name}" cannot access the kubesim admin endpoint')
        faults, reqlog = self.api.faults, self.api.request_log
        if self.path == "/kubesim/faults":
            if faults is None:
                raise errors.not_found_path()
            if self.method == "GET":
                return self.h.send_json(200, {"rules": faults.describe()})
            if self.method == "POST":
                spec = decode_body(self.body, self.h.headers.get("Content-Type", "application/json"))
                try:
                    rule = faults.add_rule(**spec)
                except (TypeError, ValueError) as exc:
                    raise errors.bad_request(f"invalid fault rule: {exc}") from None
                return self.h.send_json(201, {"rule": rule})
            if self.method == "DELETE":
                faults.clear()
                return self.h.send_json(200, {"rules": []})
        if self.path == "/kubesim/requests":
            if reqlog is None:
                raise errors.not_found_path()
            if self.method == "GET":
                return self.h.send_json(200, {"entries": reqlog.as_dicts()})
            if self.method == "DELETE":
                reqlog.clear()
                return self.h.send_json(200, {"entries": []})
        raise errors.not_found_path()

    # ---------------------------------------------------------------- reads
    def _check_namespace_exists(self, rt: ResourceType) -> None:
        # The real server lists an empty collection in a missing namespace rather than 404.
        return None

    def get(self, rt: ResourceType) -> None:
        obj = self.api.store.get(rt, self.info.namespace, self.info.name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        if wants_table(self.h.headers.get("Accept", "")) and not self.info.subresource:
            return self.h.send_json(200, to_table(rt, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                                  self.q("includeObject") or "Metadata"))
        self.h.send_json(200, obj)

    def _selectors(self, rt: ResourceType):
        label = parse_label_selector(self.q("labelSelector")) if self.q("labelSelector") else None
        field = parse_field_selector(rt, self.q("fieldSelector")) if self.q("fieldSelector") else None

        def match(obj: dict) -> bool:
            if label is not None and not label((obj.get("metadata") or {}).get("labels") or {}):
                return False
            if field is not None and not field(obj):
                return False
            return True

        return match, label is not None or field is not None

    def list(self, rt: ResourceType) -> None:
        ns = self.info.namespace if rt.namespaced else None
        match, filtered = self._selectors(rt)
        items, rv = self.api.store.list(rt, ns)
        if filtered:
            items = [o for o in items if match(o)]
        cont = self.q("continue")
        if cont:
            start = _decode_continue(cont)
            items = [o for o in items if _sort_key(o) > start]
        meta: dict = {"resourceVersion": rv}
        limit_s = self.q("limit")
        if limit_s:
            try:
                limit = int(limit_s)
            except ValueError:
                raise errors.bad_request(f'limit: Invalid value: "{limit_s}"') from None
            if 0 < limit < len(items):
                remaining = len(items) - limit
                items = items[:limit]
                meta["continue"] = _encode_continue(rv, _sort_key(items[-1]))
                if not filtered:
                    meta["remainingItemCount"] = remaining
        if wants_table(self.h.headers.get("Accept", "")):
            return self.h.send_json(200, to_table(rt, items, meta, self.q("includeObject") or "Metadata"))
        self.h.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items})

    def watch(self, rt: ResourceType) -> None:
        store = self.api.store
        ns = self.info.namespace if rt.namespaced else None
        match, filtered = self._selectors(rt)
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
            self.h.write_chunk(_json_dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
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
                        self.h.write_chunk(_json_dumps({"type": "BOOKMARK", "object": {
                            "kind": rt.kind, "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": store.resource_version}}}).encode() + b"\n")
                        last_bookmark = time.monotonic()
                    elif _peer_closed(self.h.connection):
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
                self.h.write_chunk(_json_dumps({"type": etype, "object": obj}).encode() + b"\n")
        finally:
            stop.set()
        self.h.end_stream()

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
        from . import openapi

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
        from . import openapi

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

    def _status_update_target(self, rt: ResourceType, obj: dict, old: dict) -> dict:
        """The object as it will be stored after a subresource write (for validation/admission)."""
        sub = self.info.subresource
        if sub == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = obj["status"]
            new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            return new
        if sub == "approval":
            new = clone(old)
            new.setdefault("status", {})["conditions"] = (obj.get("status") or {}).get("conditions") or []
            new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            return new
        if sub == "finalize":
            new = clone(old)
            new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
            return new
        if "status" in rt.subresources:
            new = clone(obj)
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
            return new
        return obj

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
            _validate_approval(rt, target)
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
        match, _ = self._selectors(rt)
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

    # ---------------------------------------------------- special resources
    def token_request(self, rt: ResourceType) -> None:
        sa = self.api.store.get(rt, self.info.namespace, self.info.name)
        if sa is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        body = decode_body(self.body, self.h.headers.get("Content-Type", "application/json")) if self.body else {}
        if body.get("kind") not in (None, "TokenRequest"):
            raise errors.bad_request(f"expected TokenRequest, got {body.get('kind')}")
        spec = body.get("spec") or {}
        seconds = spec.get("expirationSeconds") or 3600
        if not isinstance(seconds, int) or seconds < 600:
            raise errors.StatusError(422, "Invalid",
                                     f'TokenRequest.authentication.k8s.io "{self.info.name}" is invalid: spec.expirationSeconds: '
                                     f'Invalid value: {seconds}: may not specify a duration less than 10 minutes',
                                     {"name": self.info.name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                                      "causes": [{"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                                                  "message": f"Invalid value: {seconds}: may not specify a duration less than 10 minutes"}]})
        seconds = min(seconds, 48 * 3600)
        token = self.api.ca.issue_token(self.info.namespace, self.info.name, sa["metadata"]["uid"], seconds)
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
        self.h.send_json(201, {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": self.info.name, "namespace": self.info.namespace,
                         "creationTimestamp": None},
            "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                     "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": exp},
        })

    def virtual(self, rt: ResourceType) -> None:
        if self.info.verb != "create" or self.info.name:
            raise errors.method_not_supported(rt.group, rt.plural, self.info.verb)
        obj = self._body_object(rt)
        spec = obj.get("spec") or {}
        authorizer = self.api.authorizer
        if rt.plural == "selfsubjectreviews":
            u = self.user
            status = {"userInfo": {"username": u.name, "groups": list(u.groups)}}
            if u.uid:
                status["userInfo"]["uid"] = u.uid
            if u.extra:
                status["userInfo"]["extra"] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in u.extra.items()}
            obj["metadata"].setdefault("creationTimestamp", None)
            obj["status"] = status
            return self.h.send_json(201, obj)
        if rt.plural == "tokenreviews":
            token = spec.get("token") or ""
            try:
                u = self.api.authenticator.authenticate(None, {"Authorization": f"Bearer {token}"})
                obj["status"] = {"authenticated": True, "user": {"username": u.name, "uid": u.uid, "groups": list(u.groups)},
                                 "audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]}
            except StatusError:
                obj["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
            return self.h.send_json(201, obj)
        if rt.plural == "selfsubjectrulesreviews":
            ns = spec.get("namespace", "")
            rules = authorizer.rules_for(self.user, ns)
            resource_rules, non_resource_rules = [], []
            for rule in rules:
                if rule.get("nonResourceURLs"):
                    non_resource_rules.append({"verbs": rule.get("verbs", []), "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    resource_rules.append({k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if k in rule})
            obj["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
            return self.h.send_json(201, obj)
        # Access reviews
        if rt.plural == "selfsubjectaccessreviews":
            subject = self.user
        else:
            if not spec.get("user") and not spec.get("groups") and not spec.get("uid"):
                raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueRequired", "field": "spec.user",
                                                              "message": "Required value: at least one of user or group must be specified"}])
            extra = spec.get("extra") or {}
            subject = UserInfo(name=spec.get("user", ""), groups=tuple(spec.get("groups") or ()), uid=spec.get("uid", ""),
                               extra=extra)
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if not ra and not nra:
            raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueRequired", "field": "spec.resourceAttributes",
                                                          "message": "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"}])
        if ra and nra:
            raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueInvalid", "field": "spec.nonResourceAttributes",
                                                          "message": f"Invalid value: {_json_dumps(nra)}: cannot be specified in combination with resourceAttributes"}])
        if ra:
            ns = ra.get("namespace", "")
            if rt.plural == "localsubjectaccessreviews":
                if ns and ns != self.info.namespace:
                    raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes.namespace",
                                                                  "message": f'Invalid value: "{ns}": must match metadata.namespace'}])
                ns = self.info.namespace
            attrs = Attributes(user=subject, verb=ra.get("verb", ""), resource_request=True, api_group=ra.get("group", ""),
                               api_version=ra.get("version", ""), resource=ra.get("resource", ""),
                               subresource=ra.get("subresource", ""), namespace=ns, name=ra.get("name", ""))
        else:
            attrs = Attributes(user=subject, verb=nra.get("verb", ""), resource_request=False, path=nra.get("path", ""))
        allowed, reason = authorizer.authorize(attrs)
        status = {"allowed": bool(allowed)}
        if reason:
            status["reason"] = reason
        obj["status"] = status
        obj["metadata"].setdefault("creationTimestamp", None)
        self.h.send_json(201, obj)


def _validate_approval(rt: ResourceType, obj: dict) -> None:
    """CSR condition rules from pkg/apis/certificates/validation (Approved and Denied are exclusive)."""
    conds = (obj.get("status") or {}).get("conditions") or []
    causes = []
    types = [c.get("type") for c in conds if isinstance(c, dict)]
    for i, c in enumerate(conds):
        if not isinstance(c, dict) or not c.get("type"):
            causes.append({"reason": "FieldValueRequired", "field": f"status.conditions[{i}].type", "message": "Required value"})
            continue
        if c["type"] in ("Approved", "Denied") and c.get("status") not in (None, "True"):
            causes.append({"reason": "FieldValueNotSupported", "field": f"status.conditions[{i}].status",
                           "message": f'Unsupported value: "{c.get("status")}": supported values: "True"'})
    if "Approved" in types and "Denied" in types:
        causes.append({"reason": "FieldValueInvalid", "field": "status.conditions",
                       "message": 'Invalid value: "Approved": Approved and Denied conditions are mutually exclusive'})
    if types.count("Approved") > 1:
        causes.append({"reason": "FieldValueDuplicate", "field": "status.conditions", "message": 'Duplicate value: "Approved"'})
    if causes:
        raise errors.invalid(rt.group, rt.kind, obj["metadata"]["name"], causes)
    now = now_rfc3339()
    for c in conds:
        c.setdefault("status", "True")
        c.setdefault("lastUpdateTime", now)
        c.setdefault("lastTransitionTime", now)


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


def _peer_closed(conn) -> bool:
    """True if the client has closed its side (readable with no data)."""
    import select

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


# ------------------------------------------------------------------ discovery
def discovery_groups() -> dict:
    """``/apis``: an APIGroupList of every non-core group served."""
    groups: dict[str, list[str]] = {}
    for group, version in resources.group_versions():
        if group:
            groups.setdefault(group, [])
            if version not in groups[group]:
                groups[group].append(version)
    out = []
    for name, versions in groups.items():
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        out.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "approval": ["get", "patch", "update"],
                      "finalize": ["update"], "token": ["create"], "scale": ["get", "patch", "update"]}


def discovery_resources(group: str, version: str) -> dict | None:
    """``/api/v1`` or ``/apis/<g>/<v>``: the APIResourceList kubectl maps kinds and short names from."""
    types = [rt for rt in resources.all_types() if rt.group == group and rt.version == version]
    if not types:
        return None
    out = []
    for rt in types:
        entry = {"name": rt.plural, "singularName": rt.singular_name, "namespaced": rt.namespaced, "kind": rt.kind,
                 "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        out.append(entry)
        for sub in rt.subresources:
            kind = {"token": ("TokenRequest", "authentication.k8s.io", "v1"), "scale": ("Scale", "autoscaling", "v1")}.get(sub)
            sub_entry = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                         "kind": kind[0] if kind else rt.kind, "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"])}
            if kind:
                sub_entry["group"], sub_entry["version"] = kind[1], kind[2]
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": out}


# ------------------------------------------------------------------- tables
def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, the AGE column."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: dict) -> str:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    import calendar

    try:
        created = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    return human_duration(time.time() - created)


def _quota_pairs(values: dict, used: dict) -> str:
    return ", ".join(f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(values.items()))


def _pod_cells(o: dict) -> list:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    phase = status.get("reason") or status.get("phase") or ""
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    return [f"{ready}/{len(spec.get('containers') or [])}", phase, restarts]


def _csr_condition(o: dict) -> str:
    conds = [c.get("type") for c in (o.get("status") or {}).get("conditions") or [] if c.get("status", "True") == "True"]
    text = ",".join(conds) if conds else "Pending"
    if (o.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text


def _duration_text(seconds) -> str:
    return human_duration(seconds) if isinstance(seconds, int) else "<none>"


# (columns after NAME, cell function); "Age" placement follows the real printers.
_TABLES = {
    ("", "namespaces"): (["Status", "Age"], lambda o: [(o.get("status") or {}).get("phase", ""), _age(o)]),
    ("", "pods"): (["Ready", "Status", "Restarts", "Age"], lambda o: _pod_cells(o) + [_age(o)]),
    ("", "resourcequotas"): (["Age", "Request", "Limit"], lambda o: [
        _age(o),
        _quota_pairs({k: v for k, v in ((o.get("status") or {}).get("hard") or {}).items() if not k.startswith("limits.")},
                     (o.get("status") or {}).get("used") or {}),
        _quota_pairs({k: v for k, v in ((o.get("status") or {}).get("hard") or {}).items() if k.startswith("limits.")},
                     (o.get("status") or {}).get("used") or {})]),
    ("", "configmaps"): (["Data", "Age"], lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)]),
    ("", "secrets"): (["Type", "Data", "Age"], lambda o: [o.get("type", ""), len(o.get("data") or {}), _age(o)]),
    ("", "serviceaccounts"): (["Secrets", "Age"], lambda o: [len(o.get("secrets") or []), _age(o)]),
    ("", "persistentvolumeclaims"): (["Status", "Volume", "Capacity", "Access Modes", "StorageClass", "Age"], lambda o: [
        (o.get("status") or {}).get("phase", ""), (o.get("spec") or {}).get("volumeName", ""),
        ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
        ",".join((o.get("status") or {}).get("accessModes") or []), (o.get("spec") or {}).get("storageClassName") or "<unset>",
        _age(o)]),
    ("rbac.authorization.k8s.io", "rolebindings"): (["Role", "Age"], lambda o: [
        f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}", _age(o)]),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (["Role", "Age"], lambda o: [
        f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}", _age(o)]),
    ("rbac.authorization.k8s.io", "clusterroles"): (["Created At"], lambda o: [(o.get("metadata") or {}).get("creationTimestamp", "")]),
    ("rbac.authorization.k8s.io", "roles"): (["Created At"], lambda o: [(o.get("metadata") or {}).get("creationTimestamp", "")]),
    ("certificates.k8s.io", "certificatesigningrequests"): (
        ["Age", "SignerName", "Requestor", "RequestedDuration", "Condition"], lambda o: [
            _age(o), (o.get("spec") or {}).get("signerName", ""), (o.get("spec") or {}).get("username", ""),
            _duration_text((o.get("spec") or {}).get("expirationSeconds")), _csr_condition(o)]),
    ("apps", "deployments"): (["Ready", "Up-to-date", "Available", "Age"], lambda o: [
        f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 0)}",
        (o.get("status") or {}).get("updatedReplicas", 0), (o.get("status") or {}).get("availableReplicas", 0), _age(o)]),
}
_COLUMN_TYPES = {"Age": "string", "Restarts": "integer", "Data": "integer", "Secrets": "integer",
                 "Up-to-date": "integer", "Available": "integer", "Created At": "date"}


def wants_table(accept: str) -> bool:
    """kubectl get asks ``application/json;as=Table;v=v1;g=meta.k8s.io`` first."""
    return "as=Table" in (accept or "") and "g=meta.k8s.io" in accept


def to_table(rt: ResourceType, items: list[dict], list_meta: dict, include_object: str = "Metadata") -> dict:
    """A meta.k8s.io/v1 Table, like the real server-side printers (for the kinds in ``_TABLES``; NAME/AGE otherwise)."""
    extra, cells = _TABLES.get((rt.group, rt.plural), (["Age"], lambda o: [_age(o)]))
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.",
                "priority": 0}]
    columns += [{"name": c, "type": _COLUMN_TYPES.get(c, "string"), "format": "", "description": c, "priority": 0} for c in extra]
    rows = []
    for obj in items:
        if include_object == "Object":
            row_obj = obj
        elif include_object == "None":
            row_obj = None
        else:
            row_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
        row = {"cells": [(obj.get("metadata") or {}).get("name", "")] + cells(obj)}
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns, "rows": rows}
