"""Built-in controllers (kubesim.controllers) and quantity arithmetic (kubesim.quantity)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubesim import quantity, rbac, resources
from kubesim.controllers import Controllers
from kubesim.pki import CertificateAuthority
from kubesim.store import Store

R = resources.lookup
NS = R("", "v1", "namespaces")
PODS = R("", "v1", "pods")
CMS = R("", "v1", "configmaps")
RQ = R("", "v1", "resourcequotas")
PVCS = R("", "v1", "persistentvolumeclaims")
CSRS = R("certificates.k8s.io", "v1", "certificatesigningrequests")
CLUSTERROLES = R("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTERROLEBINDINGS = R("rbac.authorization.k8s.io", "v1", "clusterrolebindings")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def store(ca):
    s = Store()
    for obj in rbac.bootstrap_objects():
        s.create(CLUSTERROLES if obj["kind"] == "ClusterRole" else CLUSTERROLEBINDINGS, obj)
    ctl = Controllers(s, ca)
    s.add_listener(ctl.on_change)
    s.ctl = ctl
    s.create(NS, {"metadata": {"name": "team-a"}})
    return s


# ------------------------------------------------------------------ quantities
@pytest.mark.parametrize("text,canonical", [
    ("100m", "100m"), ("1000m", "1"), ("1500m", "1500m"), ("0.5", "500m"), ("2", "2"), ("1000", "1k"),
    ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"), ("1e3", "1e3"), ("0", "0"),
    ("128974848", "128974848"), ("129e6", "129e6"), ("123Mi", "123Mi"), ("0.1m", "100u"),
])
def test_quantity_canonical_form(text, canonical):
    assert quantity.canonical(text) == canonical


def test_quantity_arithmetic_and_errors():
    assert quantity.parse("100m") + quantity.parse("900m") == quantity.parse("1")
    assert quantity.parse("1Gi") > quantity.parse("1000Mi")
    assert str(quantity.parse("512Mi") + quantity.parse("512Mi")) == "1Gi"
    assert str(quantity.ZERO + quantity.parse("1Gi")) == "1Gi"  # a zero receiver takes the other's format
    with pytest.raises(quantity.QuantityError):
        quantity.parse("1 cpu")


# ------------------------------------------------------------------ ResourceQuota status
def pod(name, cpu_req=None, cpu_lim=None, mem_req=None, phase=None):
    res = {}
    if cpu_req or mem_req:
        res["requests"] = {k: v for k, v in (("cpu", cpu_req), ("memory", mem_req)) if v}
    if cpu_lim:
        res["limits"] = {"cpu": cpu_lim}
    p = {"metadata": {"name": name, "namespace": "team-a"}, "spec": {"containers": [{"name": "c", "image": "x", "resources": res}]}}
    if phase:
        p["status"] = {"phase": phase}
    return p


def test_quota_status_follows_spec_and_usage(store):
    store.create(RQ, {"metadata": {"name": "q", "namespace": "team-a"}, "spec": {"hard": {
        "requests.cpu": "4", "limits.cpu": "8", "requests.memory": "8Gi", "pods": "10", "configmaps": "5",
        "count/configmaps": "5", "persistentvolumeclaims": "2", "requests.storage": "10Gi"}}})
    q = store.get(RQ, "team-a", "q")
    assert q["status"]["hard"]["requests.memory"] == "8Gi"
    assert q["status"]["used"] == {"requests.cpu": "0", "limits.cpu": "0", "requests.memory": "0", "pods": "0",
                                   "configmaps": "0", "count/configmaps": "0", "persistentvolumeclaims": "0",
                                   "requests.storage": "0"}
    store.create(PODS, pod("a", cpu_req="250m", cpu_lim="500m", mem_req="128Mi"))
    store.create(PODS, pod("b", cpu_req="750m", mem_req="128Mi"))
    store.create(PODS, pod("done", cpu_req="2", phase="Succeeded"))
    store.create(CMS, {"metadata": {"name": "c1", "namespace": "team-a"}})
    store.create(PVCS, {"metadata": {"name": "v", "namespace": "team-a"},
                        "spec": {"resources": {"requests": {"storage": "1Gi"}}}})
    used = store.get(RQ, "team-a", "q")["status"]["used"]
    assert used == {"requests.cpu": "1", "limits.cpu": "500m", "requests.memory": "256Mi", "pods": "2",
                    "configmaps": "1", "count/configmaps": "1", "persistentvolumeclaims": "1", "requests.storage": "1Gi"}
    store.delete(PODS, "team-a", "a")
    used = store.get(RQ, "team-a", "q")["status"]["used"]
    assert used["requests.cpu"] == "750m" and used["pods"] == "1"


def test_quota_hard_follows_spec_changes(store):
    store.create(RQ, {"metadata": {"name": "q", "namespace": "team-a"}, "spec": {"hard": {"pods": "1"}}})
    q = store.get(RQ, "team-a", "q")
    q["spec"]["hard"] = {"pods": "5", "requests.cpu": "1000m"}
    store.update(RQ, q)
    status = store.get(RQ, "team-a", "q")["status"]
    assert status == {"hard": {"pods": "5", "requests.cpu": "1"}, "used": {"pods": "0", "requests.cpu": "0"}}


def test_quota_status_not_rewritten_when_unchanged(store):
    store.create(RQ, {"metadata": {"name": "q", "namespace": "team-a"}, "spec": {"hard": {"pods": "3"}}})
    rv = store.get(RQ, "team-a", "q")["metadata"]["resourceVersion"]
    store.create(CMS, {"metadata": {"name": "c1", "namespace": "team-a"}})  # not counted by this quota
    assert store.get(RQ, "team-a", "q")["metadata"]["resourceVersion"] == rv


# ------------------------------------------------------------------ CSR signing
def csr_request(cn="jane", orgs=("devs",)):
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def approve(store, name, kind="Approved"):
    csr = store.get(CSRS, None, name)
    csr.setdefault("status", {})["conditions"] = [{"type": kind, "status": "True", "reason": "Test", "message": "x"}]
    store.update(CSRS, csr, subresource="approval")
    return store.get(CSRS, None, name)


def new_csr(store, name="jane", usages=("client auth", "digital signature"), seconds=None,
            signer="kubernetes.io/kube-apiserver-client"):
    spec = {"request": csr_request(), "signerName": signer, "usages": list(usages)}
    if seconds:
        spec["expirationSeconds"] = seconds
    store.create(CSRS, {"metadata": {"name": name}, "spec": spec})


def test_approved_csr_is_signed_with_requested_lifetime(store, ca):
    new_csr(store, seconds=3600)
    assert "certificate" not in (store.get(CSRS, None, "jane").get("status") or {})
    csr = approve(store, "jane")
    pem = base64.b64decode(csr["status"]["certificate"])
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "jane"
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < lifetime <= dt.timedelta(hours=1, minutes=1)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    # the issued certificate authenticates against the same CA
    user = ca.identity_from_cert(cert.public_bytes(serialization.Encoding.DER))
    assert user.name == "jane" and user.groups == ("devs",)


def test_default_lifetime_is_capped_at_a_year(store):
    new_csr(store)
    cert = x509.load_pem_x509_certificate(base64.b64decode(approve(store, "jane")["status"]["certificate"]))
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=364) < lifetime <= dt.timedelta(days=366)


def test_denied_or_other_signer_stays_unsigned(store):
    new_csr(store, "denied")
    assert "certificate" not in approve(store, "denied", kind="Denied")["status"]
    new_csr(store, "other", signer="example.com/signer")
    assert "certificate" not in approve(store, "other")["status"]


def test_bad_usage_marks_failed(store):
    new_csr(store, usages=("client auth", "server auth"))
    status = approve(store, "jane")["status"]
    assert "certificate" not in status
    failed = [c for c in status["conditions"] if c["type"] == "Failed"]
    assert failed and failed[0]["reason"] == "SignerValidationFailure"
    assert failed[0]["message"] == "invalid usage for client certificate: server auth"


# ------------------------------------------------------------------ namespace finalization
def test_namespace_deletion_removes_content_then_namespace(store):
    store.create(CMS, {"metadata": {"name": "c1", "namespace": "team-a"}})
    store.create(PODS, pod("p"))
    store.mark_terminating(NS, "team-a")
    assert store.get(NS, None, "team-a") is None
    assert store.list(CMS, "team-a")[0] == [] and store.list(PODS, "team-a")[0] == []


def test_finalizer_keeps_namespace_terminating_until_released(store):
    store.create(CMS, {"metadata": {"name": "held", "namespace": "team-a", "finalizers": ["example.com/x"]}})
    store.create(CMS, {"metadata": {"name": "free", "namespace": "team-a"}})
    store.mark_terminating(NS, "team-a")
    ns = store.get(NS, None, "team-a")
    assert ns["status"]["phase"] == "Terminating"
    assert store.get(CMS, "team-a", "free") is None
    held = store.get(CMS, "team-a", "held")
    assert held["metadata"].get("deletionTimestamp")
    held["metadata"]["finalizers"] = []
    store.update(CMS, held)
    assert store.get(NS, None, "team-a") is None


# ------------------------------------------------------------------ aggregation
def test_new_labelled_clusterrole_is_aggregated_into_view_edit_admin(store):
    store.create(CLUSTERROLES, {"metadata": {"name": "widgets-view", "labels": {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [
        {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}]})
    rule = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}
    for name in ("view", "edit", "admin"):
        assert rule in store.get(CLUSTERROLES, None, name)["rules"], name
    store.delete(CLUSTERROLES, None, "widgets-view")
    for name in ("view", "edit", "admin"):
        assert rule not in store.get(CLUSTERROLES, None, name)["rules"], name


def test_resync_repairs_state(store, ca):
    # state written while no controller listened (e.g. loaded from disk)
    bare = Store()
    bare.create(NS, {"metadata": {"name": "team-a"}})
    bare.create(RQ, {"metadata": {"name": "q", "namespace": "team-a"}, "spec": {"hard": {"pods": "2"}}})
    bare.create(PODS, pod("p"))
    Controllers(bare, ca).resync()
    assert bare.get(RQ, "team-a", "q")["status"]["used"] == {"pods": "1"}


def test_relabelling_a_role_out_of_aggregation_removes_its_rules(store):
    rule = {"apiGroups": ["example.com"], "resources": ["gadgets"], "verbs": ["get"]}
    role = store.create(CLUSTERROLES, {"metadata": {"name": "gadgets-view", "labels": {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [rule]})
    assert rule in store.get(CLUSTERROLES, None, "view")["rules"]
    # Only the *old* version matches a selector now: the controller must still re-aggregate.
    role["metadata"]["labels"] = {"team": "gadgets"}
    store.update(CLUSTERROLES, role)
    for name in ("view", "edit", "admin"):
        assert rule not in store.get(CLUSTERROLES, None, name)["rules"], name


def test_unrelated_clusterrole_write_leaves_aggregated_roles_alone(store):
    before = {n: store.get(CLUSTERROLES, None, n)["metadata"]["resourceVersion"] for n in ("view", "edit", "admin")}
    store.create(CLUSTERROLES, {"metadata": {"name": "plain", "labels": {"team": "a"}},
                                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    assert not rbac.aggregation_affected(store.list(CLUSTERROLES)[0], store.get(CLUSTERROLES, None, "plain"))
    after = {n: store.get(CLUSTERROLES, None, n)["metadata"]["resourceVersion"] for n in ("view", "edit", "admin")}
    assert after == before
    # A hand edit of an aggregated role is reconciled back, as the real controller does.
    view = store.get(CLUSTERROLES, None, "view")
    expected = view["rules"]
    view["rules"] = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]
    store.update(CLUSTERROLES, view)
    assert store.get(CLUSTERROLES, None, "view")["rules"] == expected


def test_signed_lifetime_is_exact_across_a_second_boundary(ca, monkeypatch):
    # Each clock reading lands 0.6 s after the previous one, so any two readings straddle a
    # second boundary: the lifetime must still be exactly expirationSeconds + the 5 min backdate.
    from kubesim import pki

    ticks = iter(dt.datetime(2030, 1, 1, 12, 0, 0, 700000, tzinfo=dt.UTC) + dt.timedelta(seconds=0.6 * i)
                 for i in range(100))
    monkeypatch.setattr(pki, "_now", lambda: next(ticks))
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")]))
           .sign(key, hashes.SHA256()))
    for seconds in (600, 3600):
        cert = x509.load_pem_x509_certificate(ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM), ["client auth"], seconds))
        assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == seconds + 300
    cert = x509.load_pem_x509_certificate(ca.issue_client_cert("u", [], 86400)[0])
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == 86400 + 300
