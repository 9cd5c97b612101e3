"""Every CSR rule, one bad CSR each: the failure names the rule."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from apps.onboarding.csr import CsrRejected, verify_csr
from tests.onboarding.conftest import make_csr

ID = "portal:alice"


def rejected(pem, **kwargs) -> CsrRejected:
    with pytest.raises(CsrRejected) as info:
        verify_csr(pem, identity=ID, **kwargs)
    return info.value


@pytest.mark.parametrize("key", [
    ec.generate_private_key(ec.SECP256R1()),
    ec.generate_private_key(ec.SECP384R1()),
    rsa.generate_private_key(65537, 2048),
    ed25519.Ed25519PrivateKey.generate(),
], ids=["p256", "p384", "rsa2048", "ed25519"])
def test_allowed_key_types_pass(key):
    checked = verify_csr(make_csr(ID, key=key), identity=ID)
    assert checked.subject == "CN=portal:alice"
    assert checked.key_algorithm in ("EC P-256", "EC P-384", "RSA 2048", "Ed25519")


def test_garbage_is_rejected_as_pem():
    assert rejected("hello").rule == "pem"
    assert rejected("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").rule == "pem"


def test_oversized_input_is_rejected_as_pem():
    assert rejected("-----BEGIN CERTIFICATE REQUEST-----\n" + "A" * 20000).rule == "pem"


def test_tampered_signature_is_rejected():
    pem = make_csr(ID)
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # a bit inside the signature's last INTEGER
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    err = rejected(tampered)
    assert err.rule == "signature"


def test_small_rsa_key_is_rejected():
    err = rejected(make_csr(ID, key=rsa.generate_private_key(65537, 1024)))
    assert err.rule == "key" and "1024" in err.message


def test_other_curves_are_rejected():
    err = rejected(make_csr(ID, key=ec.generate_private_key(ec.SECP521R1())))
    assert err.rule == "key" and "secp521r1" in err.message


def test_wrong_common_name_is_rejected():
    err = rejected(make_csr("portal:bob"))
    assert err.rule == "cn" and "portal:alice" in err.message and "portal:bob" in err.message


def test_missing_or_second_common_name_is_rejected():
    assert rejected(make_csr(None, orgs=["x"])).rule == "cn"
    assert rejected(make_csr(ID, extra_cns=["portal:root"])).rule == "cn"


def test_organisations_are_rejected_unless_configured():
    assert rejected(make_csr(ID, orgs=["developers"])).rule == "organisation"
    assert verify_csr(make_csr(ID, orgs=["developers"]), identity=ID, allowed_groups=["developers"])


def test_system_masters_is_never_allowed_even_if_configured():
    err = rejected(make_csr(ID, orgs=["system:masters"]), allowed_groups=["system:masters"])
    assert err.rule == "organisation" and "system:masters" in err.message
