"""Authentication (client certs, ServiceAccount and static tokens) and impersonation (kubesim.authn)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesim import errors, rbac, resources
from kubesim.authn import Authenticator, load_static_tokens
from kubesim.pki import CertificateAuthority
from kubesim.store import Store
from kubesim.types import UserInfo

SAS = resources.lookup("", "v1", "serviceaccounts")
CLUSTERROLES = resources.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTERROLEBINDINGS = resources.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def store():
    s = Store()
    for obj in rbac.bootstrap_objects():
        s.create(CLUSTERROLES if obj["kind"] == "ClusterRole" else CLUSTERROLEBINDINGS, obj)
    return s


@pytest.fixture
def authn(ca, store):
    return Authenticator(ca, store, {"static-secret": UserInfo("carol", ("ops",), "42")})


def der(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


def test_client_certificate_identity(authn, ca):
    cert, _ = ca.issue_client_cert("alice", ["devs", "qa"])
    user = authn.authenticate(der(cert), {})
    assert user.name == "alice"
    assert user.groups == ("devs", "qa", "system:authenticated")
    assert user.extra["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")


def test_certificate_from_another_ca_is_401(authn, tmp_path):
    other = CertificateAuthority.load_or_create(tmp_path / "other")
    cert, _ = other.issue_client_cert("mallory", ["system:masters"])
    with pytest.raises(errors.StatusError) as exc:
        authn.authenticate(der(cert), {})
    assert exc.value.code == 401
    assert exc.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_self_signed_certificate_is_401(authn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root")])
    import datetime as dt
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    with pytest.raises(errors.StatusError) as exc:
        authn.authenticate(cert.public_bytes(serialization.Encoding.DER), {})
    assert exc.value.code == 401


def test_no_credentials_is_401(authn):
    with pytest.raises(errors.StatusError) as exc:
        authn.authenticate(None, {})
    assert (exc.value.code, exc.value.reason) == (401, "Unauthorized")


def test_static_token(authn):
    user = authn.authenticate(None, {"authorization": "Bearer static-secret"})
    assert user == UserInfo("carol", ("ops", "system:authenticated"), "42")
    with pytest.raises(errors.StatusError):
        authn.authenticate(None, {"Authorization": "Bearer wrong"})
    with pytest.raises(errors.StatusError):
        authn.authenticate(None, {"Authorization": "Basic c3RhdGljLXNlY3JldA=="})


def test_service_account_token(authn, ca, store):
    sa = store.create(SAS, {"metadata": {"name": "portal", "namespace": "platform"}})
    token = ca.issue_token("platform", "portal", sa["metadata"]["uid"], 600)
    user = authn.authenticate(None, {"Authorization": f"Bearer {token}"})
    assert user.name == "system:serviceaccount:platform:portal"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:platform", "system:authenticated")
    assert user.uid == sa["metadata"]["uid"]


def test_service_account_token_rejected_after_delete_or_recreate(authn, ca, store):
    sa = store.create(SAS, {"metadata": {"name": "portal", "namespace": "platform"}})
    token = ca.issue_token("platform", "portal", sa["metadata"]["uid"], 600)
    store.delete(SAS, "platform", "portal")
    with pytest.raises(errors.StatusError) as exc:
        authn.authenticate(None, {"Authorization": f"Bearer {token}"})
    assert exc.value.code == 401
    store.create(SAS, {"metadata": {"name": "portal", "namespace": "platform"}})  # same name, new uid
    with pytest.raises(errors.StatusError):
        authn.authenticate(None, {"Authorization": f"Bearer {token}"})


def test_tampered_token_is_401(authn, ca, store):
    sa = store.create(SAS, {"metadata": {"name": "portal", "namespace": "platform"}})
    token = ca.issue_token("platform", "portal", sa["metadata"]["uid"], 600)
    head, body, sig = token.split(".")
    with pytest.raises(errors.StatusError):
        authn.authenticate(None, {"Authorization": f"Bearer {head}.{body}.{sig[:-4]}AAAA"})


def test_token_file(tmp_path):
    path = tmp_path / "tokens.csv"
    path.write_text('# comment\nt1,bob,uid-1,"devs,ops"\nt2,eve,uid-2\n')
    tokens = load_static_tokens(path)
    assert tokens["t1"] == UserInfo("bob", ("devs", "ops"), "uid-1")
    assert tokens["t2"] == UserInfo("eve", (), "uid-2")


# ----------------------------------------------------------------- impersonation
ALICE = UserInfo("alice", ("system:authenticated",))
ROOT = UserInfo("root", ("system:masters", "system:authenticated"))


def test_no_impersonation_headers_returns_same_user(authn, store):
    assert authn.impersonate(ALICE, {"Accept": "application/json"}, rbac.Authorizer(store)) is ALICE


def test_masters_can_impersonate_user_and_groups(authn, store):
    user = authn.impersonate(ROOT, {"Impersonate-User": "bob", "Impersonate-Group": ["devs", "qa"]}, rbac.Authorizer(store))
    assert user == UserInfo("bob", ("devs", "qa", "system:authenticated"))


def test_impersonating_service_account_gets_its_groups(authn, store):
    user = authn.impersonate(ROOT, {"Impersonate-User": "system:serviceaccount:ns1:builder"}, rbac.Authorizer(store))
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated")


def test_impersonation_denied_has_real_message(authn, store):
    with pytest.raises(errors.StatusError) as exc:
        authn.impersonate(ALICE, {"Impersonate-User": "bob"}, rbac.Authorizer(store))
    assert exc.value.code == 403
    assert exc.value.message == ('users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
                                 'in API group "" at the cluster scope')


def test_impersonation_checks_each_group(authn, store):
    store.create(CLUSTERROLES, {"metadata": {"name": "imp"}, "rules": [
        {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
        {"apiGroups": [""], "resources": ["groups"], "resourceNames": ["devs"], "verbs": ["impersonate"]}]})
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "imp"},
                                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "imp"},
                                       "subjects": [{"kind": "User", "name": "alice"}]})
    authz = rbac.Authorizer(store)
    assert authn.impersonate(ALICE, {"Impersonate-User": "bob", "Impersonate-Group": "devs"}, authz).groups == (
        "devs", "system:authenticated")
    with pytest.raises(errors.StatusError) as exc:
        authn.impersonate(ALICE, {"Impersonate-User": "bob", "Impersonate-Group": ["devs", "system:masters"]}, authz)
    assert exc.value.message == ('groups "system:masters" is forbidden: User "alice" cannot impersonate resource '
                                 '"groups" in API group "" at the cluster scope')


def test_impersonating_service_account_denied_in_namespace(authn, store):
    with pytest.raises(errors.StatusError) as exc:
        authn.impersonate(ALICE, {"Impersonate-User": "system:serviceaccount:ns1:builder"}, rbac.Authorizer(store))
    assert exc.value.message == ('serviceaccounts "builder" is forbidden: User "alice" cannot impersonate resource '
                                 '"serviceaccounts" in API group "" in the namespace "ns1"')


def test_impersonate_uid_and_extra(authn, store):
    user = authn.impersonate(ROOT, {"Impersonate-User": "bob", "Impersonate-Uid": "u-1",
                                    "Impersonate-Extra-Scopes": ["read", "write"]}, rbac.Authorizer(store))
    assert user.uid == "u-1" and user.extra == {"scopes": ["read", "write"]}


def test_group_without_user_is_bad_request(authn, store):
    with pytest.raises(errors.StatusError) as exc:
        authn.impersonate(ROOT, {"Impersonate-Group": "devs"}, rbac.Authorizer(store))
    assert exc.value.code == 400
    assert exc.value.message == "requested [{Group  devs    }] without impersonating a user"


# ----------------------------------------------------------------- token signing keys
def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _header(token: str) -> dict:
    import base64
    import json

    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def test_fresh_state_dir_signs_es256_tokens(ca):
    token = ca.issue_token("platform", "portal", "uid-1", 600)
    assert _header(token)["alg"] == "ES256"
    assert ca.sa_key.curve.name == "secp256r1"
    import base64

    sig = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))) == 64  # JWS r||s, not DER
    assert ca.verify_token(token)["sub"] == "system:serviceaccount:platform:portal"


def test_legacy_rsa_signing_key_keeps_working(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    # A state dir written by an older kubesim holds an RSA sa.key: it must still load and sign RS256.
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tmp_path.joinpath("sa.key").write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    legacy = CertificateAuthority.load_or_create(tmp_path)
    token = legacy.issue_token("platform", "portal", "uid-1", 600)
    assert _header(token)["alg"] == "RS256"
    assert CertificateAuthority.load_or_create(tmp_path).verify_token(token)["sub"] == "system:serviceaccount:platform:portal"


def test_token_cannot_choose_its_algorithm(ca):
    token = ca.issue_token("platform", "portal", "uid-1", 600)
    _, body, sig = token.split(".")
    for alg in ("none", "RS256", "HS256"):
        head = _b64(f'{{"alg":"{alg}","kid":"x"}}'.encode())
        assert ca.verify_token(f"{head}.{body}.{sig}") is None, alg
        assert ca.verify_token(f"{head}.{body}.") is None, alg
