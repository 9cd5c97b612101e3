"""Onboarding fixtures: a fake cluster signer behind the ``apps.clusters.kube`` CSR verbs.

The unit tests swap the four CSR verbs (and ``list_objects``) for an
in-memory signer with a real CA, so certificates, fingerprints and expiry are
real; the kubesim-backed tests in ``test_kubectl_integration.py`` use the real
module against kubesim.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apps.clusters.models import Cluster
from apps.core.errors import ClusterError
from apps.namespaces.models import Namespace


def make_csr(cn: str | None = "portal:alice", *, key=None, orgs=(), extra_cns=()) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = []
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    attrs += [x509.NameAttribute(NameOID.COMMON_NAME, c) for c in extra_cns]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, algorithm)
    return csr.public_bytes(serialization.Encoding.PEM)


class FakeSigner:
    """Stands in for a cluster's CSR API: records calls, signs on approval, can deny/hang/fail."""

    def __init__(self):
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-ca")])
        now = dt.datetime.now(dt.UTC)
        self.ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.ca_key.public_key())
                        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(self.ca_key, hashes.SHA256()))
        self.csrs: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.mode = "sign"  # sign | deny | hang | down
        self.bindings: dict[str, list[dict]] = {}

    @property
    def ca_pem(self) -> str:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM).decode()

    def create_csr(self, cluster, name, csr_pem, expiration_seconds, **kwargs):
        self.calls.append(("create", name))
        if self.mode == "down":
            raise ClusterError(f"{cluster.name}: connection refused", retryable=True)
        self.csrs[name] = {"pem": csr_pem if isinstance(csr_pem, bytes) else csr_pem.encode(), "seconds": expiration_seconds}
        return {"metadata": {"name": name}}

    def approve_csr(self, cluster, name, message, **kwargs):
        self.calls.append(("approve", name))
        self.csrs[name]["message"] = message
        return {}

    def wait_for_certificate(self, cluster, name, timeout):
        self.calls.append(("wait", name))
        if self.mode == "deny":
            raise ClusterError(f"{cluster.name}: CSR {name} denied: policy says no", retryable=False)
        if self.mode == "hang":
            raise ClusterError(f"{cluster.name}: no certificate issued for CSR {name} within {timeout:g}s", retryable=True)
        csr = x509.load_pem_x509_csr(self.csrs[name]["pem"])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self.ca_cert.subject)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + dt.timedelta(seconds=self.csrs[name]["seconds"]))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    def delete_csr(self, cluster, name):
        self.calls.append(("delete", name))
        return self.csrs.pop(name, None) is not None

    def list_objects(self, cluster, api_version, kind, namespace=None, label_selector=""):
        assert kind == "RoleBinding"
        return self.bindings.get(namespace, [])

    def bind(self, namespace: str, identity: str):
        self.bindings.setdefault(namespace, []).append(
            {"metadata": {"name": f"rb-{identity}"}, "subjects": [{"kind": "User", "name": identity}]})


@pytest.fixture
def signer(monkeypatch) -> FakeSigner:
    from apps.clusters import kube

    fake = FakeSigner()
    for verb in ("create_csr", "approve_csr", "wait_for_certificate", "delete_csr", "list_objects"):
        monkeypatch.setattr(kube, verb, getattr(fake, verb))
    return fake


@pytest.fixture
def fake_cluster(db, signer) -> Cluster:
    cluster = Cluster(name="demo", api_server_url="https://127.0.0.1:6443", ca_bundle=signer.ca_pem,
                      auth_kind=Cluster.AuthKind.TOKEN)
    cluster.set_credentials({"token": "secret"})
    cluster.save()
    return cluster


@pytest.fixture
def team_namespace(fake_cluster, team, manager) -> Namespace:
    return Namespace.objects.create(cluster=fake_cluster, name="payments-dev", team=team, owner=manager,
                                    quota={"pods": "10"}, phase=Namespace.Phase.READY)


@pytest.fixture
def other_namespace(fake_cluster, other_team) -> Namespace:
    return Namespace.objects.create(cluster=fake_cluster, name="search-dev", team=other_team, quota={"pods": "10"},
                                    phase=Namespace.Phase.READY)


def kubeconfig_parts(text: str) -> dict:
    import yaml

    cfg = yaml.safe_load(text)
    user = cfg["users"][0]["user"]
    return {
        "config": cfg,
        "cert": base64.b64decode(user["client-certificate-data"]),
        "key": base64.b64decode(user["client-key-data"]) if "client-key-data" in user else None,
        "namespace": cfg["contexts"][0]["context"]["namespace"],
    }


__all__ = ["make_csr", "kubeconfig_parts", "rsa", "ec", "ed25519"]
