"""Bad input: kubesim answers with the real status codes and Status bodies, and survives.

Requests go over a raw HTTPS connection (client certificate of the admin) so
the exact bytes are under the test's control.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl

import pytest
import yaml

from kubesim import testing

LIMIT = 3 * 1024 * 1024


class Raw:
    """Minimal HTTPS client for hand-made requests (keeps the connection per request)."""

    def __init__(self, handle, tmp_path):
        config = yaml.safe_load(handle.admin_kubeconfig.read_text())
        user = config["users"][0]["user"]
        cert, key = tmp_path / "admin.crt", tmp_path / "admin.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        self.ctx = ssl.create_default_context(cafile=str(handle.ca_path))
        self.ctx.load_cert_chain(str(cert), str(key))
        self.port = handle.port

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> tuple[int, dict | bytes]:
        """Send the whole request, then read the response (works even when the server answers early)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as raw_sock:
            with self.ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as sock:
                head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
                try:
                    sock.sendall(head + body)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                    pass  # the server may answer and close before reading an oversized body
                data = b""
                while True:
                    try:
                        chunk = sock.recv(65536)
                    except (ConnectionResetError, ssl.SSLError):
                        break
                    if not chunk:
                        break
                    data += chunk
        header, _, payload = data.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in header.lower():
            payload = _dechunk(payload)
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


@pytest.fixture
def raw(kubesim, tmp_path):
    return Raw(kubesim, tmp_path)


def assert_status(result, code: int, reason: str, message: str | None = None, prefix: str | None = None):
    status, body = result
    assert status == code, body
    assert isinstance(body, dict) and body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure" and body["code"] == code and body["reason"] == reason, body
    if message is not None:
        assert body["message"] == message
    if prefix is not None:
        assert body["message"].startswith(prefix), body["message"]
    return body


def assert_healthy(raw):
    status, body = raw.request("GET", "/healthz")
    assert (status, body) == (200, b"ok")
    status, body = raw.request("GET", "/api/v1/namespaces")
    assert status == 200 and body["kind"] == "NamespaceList"


UNRECOGNIZED = "the object provided is unrecognized (must be of type Namespace): "
FIND_KIND = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'


def test_malformed_json(raw):
    # handlers.transformDecodeError around meta.go's "couldn't get version/kind" and Go's scanner wording
    assert_status(raw.request("POST", "/api/v1/namespaces", b'{"kind": "Namespace", "metadata": {"name": "x"}, "spec": [}'), 400, "BadRequest",
                  UNRECOGNIZED + "couldn't get version/kind; json parse error: invalid character '}' looking for beginning of value "
                  '({"kind": "Namespace", "metadat ...)')
    assert_status(raw.request("POST", "/api/v1/namespaces", b'[1, 2]'), 400, "BadRequest",
                  UNRECOGNIZED + f"couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type {FIND_KIND} "
                  "(5b312c20325d)")
    assert_status(raw.request("POST", "/api/v1/namespaces", b'{"apiVersion": "v1", "kind": 5}'), 400, "BadRequest",
                  UNRECOGNIZED + "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string "
                  '({"apiVersion": "v1", "kind": 5 ...)')  # 30 bytes kept
    assert_healthy(raw)


@pytest.mark.parametrize("body,error", [
    (b'{"kind": "Namespace", ', "unexpected end of JSON input"),
    (b"", "unexpected end of JSON input"),
    (b'{"metadata": {"name" "x"}}', "invalid character '\"' after object key"),
    (b'{"metadata": {"name": "x",}}', "invalid character '}' looking for beginning of object key string"),
    (b'{"metadata": {"name": "x"} "spec": {}}', "invalid character '\"' after object key:value pair"),
    (b'{"spec": {"finalizers": ["a" "b"]}}', "invalid character '\"' after array element"),
    (b'{"spec": tru}', "invalid character '}' in literal true (expecting 'e')"),
    (b'{"metadata": {"name": "a\\qb"}}', "invalid character 'q' in string escape code"),
    (b'{"kind": "Namespace"} x', "invalid character 'x' after top-level value"),
    (b'{"spec": NaN}', "invalid character 'N' looking for beginning of value"),
    (b"[" * 10001, "exceeded max depth"),
])
def test_json_syntax_errors_use_go_wording(raw, body, error):
    summary = body.decode() if body[:1] == b"{" else body[:30].hex()
    if len(body) > 30:
        summary = (body[:30].decode() if body[:1] == b"{" else body[:30].hex()) + " ..."
    assert_status(raw.request("POST", "/api/v1/namespaces", body), 400, "BadRequest",
                  f"{UNRECOGNIZED}couldn't get version/kind; json parse error: {error} ({summary or '<empty>'})")


def test_null_body_decodes_as_an_empty_object(raw):
    # Go's Unmarshal of null into the object is a no-op: the empty object then fails validation.
    body = assert_status(raw.request("POST", "/api/v1/namespaces", b"null"), 422, "Invalid")
    assert body["message"].endswith("metadata.name: Required value: name or generateName is required")


def test_invalid_utf8_in_strings_is_replaced_like_go(raw):
    status, body = raw.request("POST", "/api/v1/namespaces/default/configmaps",
                               b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf"},"data":{"k":"a\xffb"}}')
    assert status == 201, body
    assert body["data"]["k"] == "a\ufffdb"


def test_malformed_yaml(raw):
    body = b"kind: Namespace\nmetadata: {name: x\n"
    assert_status(raw.request("POST", "/api/v1/namespaces", body, "application/yaml"), 400, "BadRequest",
                  prefix=UNRECOGNIZED + "error converting YAML to JSON: yaml: line ")
    status, reply = raw.request("POST", "/api/v1/namespaces", body, "application/yaml")
    assert reply["message"].endswith(f" ({body[:30].hex()} ...)")  # summarizeData: hex unless the body starts with '{'
    assert_healthy(raw)


def test_unknown_kind_in_body(raw):
    assert_status(raw.request("POST", "/api/v1/namespaces", b'{"apiVersion":"v1","kind":"Frob","metadata":{"name":"x"}}'), 400, "BadRequest",
                  'Frob in version "v1" cannot be handled as a Namespace: no kind "Frob" is registered for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"')


def test_wrong_api_version(raw):
    assert_status(raw.request("POST", "/api/v1/namespaces", b'{"apiVersion":"v2","kind":"Namespace","metadata":{"name":"x"}}'), 400, "BadRequest",
                  "the API version in the data (v2) does not match the expected API version (v1)")
    assert_status(raw.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                              b'{"apiVersion":"rbac.authorization.k8s.io/v1beta1","kind":"ClusterRole","metadata":{"name":"x"}}'), 400, "BadRequest",
                  "the API version in the data (rbac.authorization.k8s.io/v1beta1) does not match the expected API version (rbac.authorization.k8s.io/v1)")


def test_unknown_resource_paths(raw):
    assert_status(raw.request("GET", "/api/v1/frobs"), 404, "NotFound", "the server could not find the requested resource")
    assert_status(raw.request("GET", "/apis/frob.example.com/v1/things"), 404, "NotFound", "the server could not find the requested resource")


def test_csr_with_invalid_pem(raw):
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "bad"},
           "spec": {"request": base64.b64encode(b"not a pem").decode(), "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}
    body = assert_status(raw.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", json.dumps(csr).encode()), 422, "Invalid")
    assert body["message"] == (
        'CertificateSigningRequest.certificates.k8s.io "bad" is invalid: spec.request: Invalid value: '
        "[]byte{0x6e, 0x6f, 0x74, 0x20, 0x61, 0x20, 0x70, 0x65, 0x6d}: PEM block type must be CERTIFICATE REQUEST"
    )
    assert body["details"]["causes"][0]["field"] == "spec.request"


def test_status_causes_use_the_reason_key(raw):
    body = assert_status(raw.request("POST", "/api/v1/namespaces", b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"Bad_Name"}}'), 422, "Invalid")
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": body["details"]["causes"][0]["message"], "field": "metadata.name"}]


def test_csr_causes_use_the_reason_key(raw):
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "bad"},
           "spec": {"request": base64.b64encode(b"not a pem").decode(), "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}
    body = assert_status(raw.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", json.dumps(csr).encode()), 422, "Invalid")
    assert [set(c) for c in body["details"]["causes"]] == [{"reason", "message", "field"}]  # metav1.StatusCause JSON keys
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    status, _ = raw.request("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests/bad")
    assert status == 404  # nothing was stored


def test_oversized_bodies_are_413(raw):
    big = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"a": "x" * (LIMIT + 10)}}).encode()
    assert_status(raw.request("POST", "/api/v1/namespaces/default/configmaps", big), 413, "RequestEntityTooLarge",
                  "Request entity too large: limit is 3145728")
    huge = b"{" + b" " * (30 * 1024 * 1024) + b"}"  # far beyond the limit: answered without reading it all
    status, body = raw.request("PUT", "/api/v1/namespaces/default", huge)
    assert status == 413
    status, _ = raw.request("GET", "/api/v1/namespaces/default/configmaps/big")
    assert status == 404
    assert_healthy(raw)


def test_bad_protobuf_and_media_types(raw):
    body = assert_status(raw.request("POST", "/api/v1/namespaces", b"k8s\x00garbage", "application/vnd.kubernetes.protobuf"), 400, "BadRequest")
    assert "proto: illegal wireType 7" in body["message"]
    # The server passes the addressed kind to the decoder, as transformDecodeError names it.
    assert_status(raw.request("POST", "/api/v1/namespaces", b"", "application/vnd.kubernetes.protobuf"), 400, "BadRequest",
                  "the object provided is unrecognized (must be of type Namespace): empty data (<empty>)")
    assert_status(raw.request("POST", "/api/v1/namespaces/default/configmaps", b"garbage", "application/vnd.kubernetes.protobuf"),
                  400, "BadRequest", prefix="the object provided is unrecognized (must be of type ConfigMap): provided data does not "
                  "appear to be a protobuf message, expected prefix [107 56 115 0]")
    assert_status(raw.request("POST", "/api/v1/namespaces", b"hello", "text/plain"), 415, "UnsupportedMediaType",
                  prefix="the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
    # Custom resources accept no protobuf, as on a real server.
    type_meta = b"\x0a\x21constraints.gatekeeper.sh/v1beta1\x12\x0fK8sAllowedRepos"
    constraint = b"k8s\x00\x0a" + bytes([len(type_meta)]) + type_meta
    status, body = raw.request("POST", "/apis/constraints.gatekeeper.sh/v1beta1/k8sallowedrepos", constraint, "application/vnd.kubernetes.protobuf")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    assert_healthy(raw)


def test_bad_query_parameters(raw):
    assert_status(raw.request("GET", "/api/v1/namespaces?labelSelector=a%20in%20(b"), 400, "BadRequest",
                  "unable to parse requirement: found '', expected: ',' or ')'")
    assert_status(raw.request("GET", "/api/v1/namespaces?limit=2&continue=not-a-token"), 400, "BadRequest")
    assert_status(raw.request("POST", "/api/v1/namespaces?fieldValidation=Bogus", b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"q"}}'),
                  400, "BadRequest", 'fieldValidation: Unsupported value: "Bogus": supported values: "Ignore", "Warn", "Strict"')


@pytest.mark.parametrize("selector,message", [
    ("a===b", "unable to parse requirement: found '=', expected: identifier"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a,", "found '', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ("app:web", "unable to parse requirement: <nil>: Invalid value: \"app:web\": name part must consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
])
def test_label_selector_errors_match_the_real_parser(raw, selector, message):
    from urllib.parse import quote

    assert_status(raw.request("GET", f"/api/v1/namespaces?labelSelector={quote(selector)}"), 400, "BadRequest", message)


def test_state_survives_bad_input_and_restart(kubesim, raw, tmp_path):
    raw.request("POST", "/api/v1/namespaces", b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"keep"}}')
    for payload, ctype in [(b"{", "application/json"), (b"\x00\xff" * 100, "application/json"), (b"- [", "application/yaml"),
                           (b"k8s\x00\x0a\xff\xff\xff\xff\x0f", "application/vnd.kubernetes.protobuf")]:
        status, _ = raw.request("POST", "/api/v1/namespaces", payload, ctype)
        assert status == 400, payload
    state_dir = kubesim.state_dir
    kubesim.stop()
    again = testing.start(state_dir)
    try:
        raw2 = Raw(again, tmp_path)
        status, body = raw2.request("GET", "/api/v1/namespaces/keep")
        assert status == 200 and body["metadata"]["name"] == "keep"
        assert_healthy(raw2)
    finally:
        again.stop()
