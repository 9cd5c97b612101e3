"""Capture the protobuf bodies real kubectl sends, for kubesim's protobuf decoder tests.

A tiny HTTP listener plays just enough API server (discovery, canned JSON
answers) for kubectl's typed-client commands to run, and records every request
body. ``python -m tests.kubesim.protobuf_capture`` rewrites the fixtures under
``tests/kubesim/fixtures/protobuf/``; the tests also run it live against the
installed kubectl so a new kubectl version cannot silently drift.

Plain HTTP is enough here: the body encoding does not depend on TLS.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"

CSR_PEM = (
    b"-----BEGIN CERTIFICATE REQUEST-----\n"
    b"MIHRMHkCAQAwFzEVMBMGA1UEAwwMYWxpY2UtcG9ydGFsMFkwEwYHKoZIzj0CAQYI\n"
    b"-----END CERTIFICATE REQUEST-----\n"
)

# Stored CSR that ``kubectl certificate approve|deny alice`` fetches and PUTs back.
CSR = {
    "apiVersion": "certificates.k8s.io/v1",
    "kind": "CertificateSigningRequest",
    "metadata": {
        "name": "alice",
        "uid": "6a1f7c2e-0000-4000-8000-000000000001",
        "resourceVersion": "42",
        "creationTimestamp": "2024-05-01T12:30:45Z",
        "labels": {"portal.example/team": "payments"},
        "annotations": {"portal.example/request": "17"},
    },
    "spec": {
        "request": base64.b64encode(CSR_PEM).decode(),
        "signerName": "kubernetes.io/kube-apiserver-client",
        "expirationSeconds": 3600,
        "usages": ["client auth", "digital signature"],
        "username": "portal",
        "uid": "u-123",
        "groups": ["system:authenticated", "portal:operators"],
        "extra": {"scopes": ["a", "b"]},
    },
    "status": {},
}

_GROUPS = {
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("rolebindings", "RoleBinding", True), ("clusterroles", "ClusterRole", False), ("clusterrolebindings", "ClusterRoleBinding", False)],
    "apps/v1": [("deployments", "Deployment", True)],
    "certificates.k8s.io/v1": [("certificatesigningrequests", "CertificateSigningRequest", False)],
    "authorization.k8s.io/v1": [("selfsubjectaccessreviews", "SelfSubjectAccessReview", False), ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False)],
    "authentication.k8s.io/v1": [("selfsubjectreviews", "SelfSubjectReview", False)],
}
_CORE = [("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True), ("secrets", "Secret", True), ("serviceaccounts", "ServiceAccount", True), ("resourcequotas", "ResourceQuota", True), ("pods", "Pod", True)]

# fixture name -> kubectl arguments
COMMANDS = {
    "create_namespace": ["create", "namespace", "team-a"],
    "create_namespace_dry_run": ["create", "namespace", "team-b", "--dry-run=server"],
    "create_configmap": ["create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=empty=", "-n", "team-a"],
    "create_secret": ["create", "secret", "generic", "creds", "--from-literal=password=s3cr3t", "-n", "team-a"],
    "create_serviceaccount": ["create", "serviceaccount", "deployer", "-n", "team-a"],
    "create_quota": ["create", "quota", "compute", "--hard=pods=10,requests.cpu=2,limits.memory=4Gi", "-n", "team-a"],
    "create_role": ["create", "role", "reader", "--verb=get,list", "--resource=pods,configmaps", "-n", "team-a"],
    "create_rolebinding": ["create", "rolebinding", "reader-bob", "--role=reader", "--user=bob", "--serviceaccount=team-a:deployer", "-n", "team-a"],
    "create_clusterrole": ["create", "clusterrole", "ns-reader", "--verb=get", "--resource=namespaces", "--resource-name=team-a"],
    "create_clusterrolebinding": ["create", "clusterrolebinding", "ns-reader-ops", "--clusterrole=ns-reader", "--group=ops"],
    "create_deployment": ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080", "-n", "team-a"],
    "certificate_approve": ["certificate", "approve", "alice"],
    "certificate_deny": ["certificate", "deny", "alice"],
    "auth_can_i_resource": ["auth", "can-i", "create", "pods", "-n", "team-a"],
    "auth_can_i_subresource": ["auth", "can-i", "update", "certificatesigningrequests", "--subresource=approval", "--all-namespaces"],
    "auth_can_i_named": ["auth", "can-i", "get", "configmaps/settings", "-n", "team-a"],
    "auth_can_i_nonresource": ["auth", "can-i", "get", "/healthz"],
    "auth_can_i_list": ["auth", "can-i", "--list", "-n", "team-a"],
    "auth_whoami": ["auth", "whoami"],
}


def _resource_list(group_version: str, items) -> dict:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
            for plural, kind, namespaced in items
        ],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    records: list  # set per server

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        self.server.records.append({"method": self.command, "path": self.path, "content_type": self.headers.get("Content-Type") or "", "body": body})
        if path == "/api":
            return self._send({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self._send({
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": "v1"}], "preferredVersion": {"groupVersion": gv, "version": "v1"}} for gv in _GROUPS],
            })
        if path == "/api/v1":
            return self._send(_resource_list("v1", _CORE))
        for gv, items in _GROUPS.items():
            if path == f"/apis/{gv}":
                return self._send(_resource_list(gv, items))
        if path.startswith("/openapi"):
            return self._send({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found", "metadata": {}}, 404)
        if "certificatesigningrequests" in path:
            return self._send(CSR)
        if "selfsubjectaccessreviews" in path:
            return self._send({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {}, "spec": {}, "status": {"allowed": True}}, 201)
        if "selfsubjectrulesreviews" in path:
            return self._send({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": {}, "spec": {}, "status": {"resourceRules": [], "nonResourceRules": [], "incomplete": False}}, 201)
        if "selfsubjectreviews" in path:
            return self._send({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}, "status": {"userInfo": {"username": "admin", "groups": ["system:masters"]}}}, 201)
        if self.command in ("POST", "PUT"):
            # Echo a minimal object back; kubectl only prints "<kind>/<name> created".
            return self._send({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "echo"}}, 201)
        return self._send({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found", "metadata": {}}, 404)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any


def capture(kubectl: str, commands: dict[str, list[str]] | None = None) -> dict[str, dict]:
    """Run each kubectl command against the listener; return name -> the protobuf request it sent."""
    commands = COMMANDS if commands is None else commands
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.records = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cache = tempfile.mkdtemp(prefix="kubesim-capture-")
    captured = {}
    try:
        for name, args in commands.items():
            server.records.clear()
            proc = subprocess.run(
                [kubectl, "--server", f"http://127.0.0.1:{server.server_address[1]}", "--cache-dir", cache, *args],
                capture_output=True, text=True, timeout=60,
                env={"PATH": "/usr/bin:/bin", "HOME": cache, "KUBECONFIG": str(Path(cache) / "none")},
            )
            if proc.returncode != 0:
                raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
            bodies = [r for r in server.records if r["content_type"].startswith("application/vnd.kubernetes.protobuf")]
            if bodies:
                captured[name] = bodies[-1]
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(cache, ignore_errors=True)
    return captured


def main() -> None:
    """Rewrite the fixtures from the kubectl on PATH."""
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    version = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True).stdout
    FIXTURES.mkdir(parents=True, exist_ok=True)
    index = {"kubectl": json.loads(version)["clientVersion"]["gitVersion"], "requests": {}}
    for name, record in capture(kubectl).items():
        (FIXTURES / f"{name}.bin").write_bytes(record["body"])
        index["requests"][name] = {"method": record["method"], "path": record["path"], "contentType": record["content_type"]}
    (FIXTURES / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    print(f"captured {len(index['requests'])} bodies from kubectl {index['kubectl']} into {FIXTURES}")


if __name__ == "__main__":
    main()
