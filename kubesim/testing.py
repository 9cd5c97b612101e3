"""Start kubesim in-process (tests, demo, benchmarks) and get a handle on it.

>>> handle = start(tmp_path)          # serves https://127.0.0.1:<free port> in a thread
>>> handle.admin_kubeconfig          # client cert in system:masters
>>> handle.faults.fail_next(2, status=503)
>>> handle.request_log.writes()
>>> handle.stop()
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from . import faults as faults_mod
from . import pki, rbac, resources
from .server import APIServer
from .store import Store

log = logging.getLogger("kubesim")

ADMIN_USER = "kubesim-admin"
ADMIN_GROUPS = ("system:masters",)


def write_kubeconfig(path: Path, url: str, ca_pem: bytes, user: str, *, cert_pem: bytes | None = None,
                     key_pem: bytes | None = None, token: str | None = None, cluster: str = "kubesim") -> Path:
    """Write a kubeconfig with embedded CA and either a client certificate or a bearer token."""
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    creds: dict = {}
    if cert_pem is not None:
        creds = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem or b"")}
    if token is not None:
        creds["token"] = token
    context = f"{user}@{cluster}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": url, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # libyaml's emitter when available: the pure-Python one costs ~25 ms per kubeconfig.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(config, Dumper=dumper, sort_keys=False))
    path.chmod(0o600)
    return path


def seed(store: Store) -> None:
    """Seed an empty store like a fresh cluster: default policy and the built-in namespaces."""
    if store.count(resources.NAMESPACES) or store.count(resources.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")):
        return
    from . import validation

    for obj in rbac.bootstrap_objects():
        api_version, kind = obj["apiVersion"], obj["kind"]
        rt = resources.by_kind(api_version, kind)
        if rt is None:
            log.warning("bootstrap object of unknown kind %s %s skipped", api_version, kind)
            continue
        store.create(rt, obj)
    sa_rt = resources.lookup("", "v1", "serviceaccounts")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        validation.apply_defaults(resources.NAMESPACES, obj)
        store.create(resources.NAMESPACES, obj)
        store.create(sa_rt, {"metadata": {"name": "default", "namespace": ns}})


def _load_security(ca, store, static_tokens):
    from .admission import Admission
    from .authn import Authenticator
    from .controllers import Controllers

    authorizer = rbac.Authorizer(store)
    authenticator = Authenticator(ca, store, static_tokens)
    return authenticator, authorizer, Admission(store, authorizer), Controllers(store, ca)


class KubesimHandle:
    """A running kubesim: URL, credentials, and the Python handles tests use."""

    def __init__(self, server: APIServer, state_dir: Path, store: Store, ca: pki.CertificateAuthority,
                 faults: faults_mod.FaultInjector, request_log: faults_mod.RequestLog, controllers=None):
        self.server = server
        self.url = server.url
        self.state_dir = Path(state_dir)
        self.store = store
        self.ca = ca
        self.ca_path = ca.ca_path
        self.faults = faults
        self.request_log = request_log
        self.controllers = controllers
        self.authorizer = server.authorizer
        self.admin_kubeconfig = self.state_dir / "admin.kubeconfig"
        if not self.admin_kubeconfig.exists() or self.url not in self.admin_kubeconfig.read_text():
            cert, key = ca.issue_client_cert(ADMIN_USER, list(ADMIN_GROUPS), 365 * 86400)
            write_kubeconfig(self.admin_kubeconfig, self.url, ca.ca_pem, ADMIN_USER, cert_pem=cert, key_pem=key)

    @property
    def port(self) -> int:
        return self.server.port

    def kubeconfig_for(self, user: str, groups=(), path: Path | None = None, seconds: int = 86400) -> Path:
        """A client-certificate kubeconfig for ``user`` in ``groups``."""
        cert, key = self.ca.issue_client_cert(user, list(groups), seconds)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in user)
        path = path or self.state_dir / f"{safe}.kubeconfig"
        return write_kubeconfig(path, self.url, self.ca.ca_pem, user, cert_pem=cert, key_pem=key)

    def token_kubeconfig(self, token: str, path: Path, user: str = "token-user") -> Path:
        """A kubeconfig that authenticates with a bearer token."""
        return write_kubeconfig(path, self.url, self.ca.ca_pem, user, token=token)

    def service_account_token(self, namespace: str, name: str, seconds: int = 3600) -> str:
        """A token for an existing ServiceAccount (as the TokenRequest API would issue)."""
        sa = self.store.get(resources.lookup("", "v1", "serviceaccounts"), namespace, name)
        if sa is None:
            raise LookupError(f"serviceaccount {namespace}/{name} not found")
        return self.ca.issue_token(namespace, name, sa["metadata"]["uid"], seconds)

    def client_cert(self, user: str, groups=(), seconds: int = 86400) -> tuple[bytes, bytes]:
        """(cert_pem, key_pem) for ``user``."""
        return self.ca.issue_client_cert(user, list(groups), seconds)

    def stop(self) -> None:
        """Stop serving and close the store (idempotent)."""
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        self.server.stop()
        if self.controllers is not None:
            self.controllers.custom.forget()
        self.store.close()

    def __enter__(self) -> KubesimHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def build(state_dir: Path, host: str = "127.0.0.1", port: int = 0, *, static_tokens: dict | None = None,
          token_file: Path | None = None, faults: faults_mod.FaultInjector | None = None,
          request_log: faults_mod.RequestLog | None = None, seed_store: bool = True):
    """Create the components and the (not yet serving) server for ``state_dir``."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.CertificateAuthority.load_or_create(state_dir)
    store = Store(state_dir)
    tokens = dict(static_tokens or {})
    if token_file is not None:
        from .authn import load_static_tokens

        tokens.update(load_static_tokens(Path(token_file)))
    authenticator, authorizer, admission, controllers = _load_security(ca, store, tokens)
    if seed_store:
        # Seed before the controllers listen: the bootstrap roles arrive already
        # aggregated, and the one resync() below settles whatever else is due.
        # Listening during the ~40 seed writes re-ran the controllers on each one.
        seed(store)
    if controllers is not None:
        store.add_listener(controllers.on_change)
        controllers.resync()
    faults = faults or faults_mod.FaultInjector()
    request_log = request_log or faults_mod.RequestLog()
    server = APIServer(store, ca, authenticator, authorizer, admission, host=host, port=port, faults=faults,
                       request_log=request_log)
    return server, store, ca, faults, request_log, controllers


def start(state_dir: Path, port: int = 0, **options) -> KubesimHandle:
    """Start kubesim on 127.0.0.1:``port`` (0 = free port) in a background thread; returns a handle."""
    server, store, ca, faults, request_log, controllers = build(state_dir, port=port, **options)
    server.start()
    return KubesimHandle(server, Path(state_dir), store, ca, faults, request_log, controllers)
