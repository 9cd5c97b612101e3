"""Pure crypto helpers for kubeconfig issuance: CSR checks, key generation, certificate facts.

No Django models and no cluster calls here, so every rule can be tested on
its own. A CSR that fails any rule never reaches a cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

# Anything bigger is not a CSR someone pasted by mistake; it is abuse.
MAX_CSR_BYTES = 16 * 1024
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
# The group that makes a client certificate cluster-admin on every cluster.
# Kubernetes' own admission (subjectrestriction) refuses it for this signer;
# we refuse it earlier and never ask.
FORBIDDEN_GROUP = "system:masters"


class CsrRejected(ValueError):
    """A CSR broke one rule; ``rule`` names it (pem, signature, key, cn, organisation)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class CheckedCsr:
    pem: bytes
    subject: str
    key_algorithm: str


def describe_key(public_key) -> str:
    """A short human name for a public key ("EC P-256", "RSA 2048", "Ed25519")."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {ALLOWED_CURVES.get(public_key.curve.name, public_key.curve.name)}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(public_key).__name__


def _check_key(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= public_key.key_size <= MAX_RSA_BITS:
            raise CsrRejected("key", f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, this one has {public_key.key_size}")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ALLOWED_CURVES:
            raise CsrRejected("key", f"EC keys must use curve P-256 or P-384, this one uses {public_key.curve.name}")
    elif not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise CsrRejected("key", f"key type {describe_key(public_key)} is not allowed (use RSA >= 2048, EC P-256/P-384 or Ed25519)")
    return describe_key(public_key)


def verify_csr(csr_pem: str | bytes, *, identity: str, allowed_groups: tuple[str, ...] | list[str] = ()) -> CheckedCsr:
    """Check a user-supplied PKCS#10 CSR; returns it normalised or raises CsrRejected.

    Rules, in order: valid PEM, signature verifies, allowed key type/size,
    CN equals the user's cluster identity (the subject their RoleBindings
    name), no organisations (groups) beyond ``allowed_groups`` and never
    ``system:masters``.
    """
    data = csr_pem.encode() if isinstance(csr_pem, str) else bytes(csr_pem)
    if len(data) > MAX_CSR_BYTES:
        raise CsrRejected("pem", f"the CSR is larger than {MAX_CSR_BYTES} bytes")
    data = data.strip()
    if not data.startswith(b"-----BEGIN CERTIFICATE REQUEST-----"):
        raise CsrRejected("pem", "expected a PEM block starting with -----BEGIN CERTIFICATE REQUEST-----")
    try:
        csr = x509.load_pem_x509_csr(data)
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRejected("pem", f"not a valid PKCS#10 certificate request ({exc})") from None
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        signature_ok = False
    if not signature_ok:
        raise CsrRejected("signature", "the CSR's signature does not verify with its own public key")
    key_algorithm = _check_key(public_key)
    common_names = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [identity]:
        got = ", ".join(repr(cn) for cn in common_names) or "none"
        raise CsrRejected("cn", f"the subject CN must be exactly {identity!r} (your cluster identity), got {got}")
    organisations = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if FORBIDDEN_GROUP in organisations:
        raise CsrRejected("organisation", f"O={FORBIDDEN_GROUP} is never allowed (it would make the certificate cluster-admin)")
    unexpected = [o for o in organisations if o not in allowed_groups]
    if unexpected:
        raise CsrRejected("organisation", f"organisations (O=) are groups on the cluster and none may be requested here: {', '.join(unexpected)}")
    pem = csr.public_bytes(serialization.Encoding.PEM)
    return CheckedCsr(pem=pem, subject=csr.subject.rfc4514_string(), key_algorithm=key_algorithm)


def generate_key_and_csr(identity: str) -> tuple[bytes, bytes]:
    """Convenience mode: a fresh EC P-256 key and a CSR for ``identity``; returns (key PEM, CSR PEM).

    P-256 rather than RSA: generating it takes microseconds, and every
    Kubernetes API server accepts it for client authentication.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class CertificateFacts:
    subject: str
    common_name: str
    organisations: tuple[str, ...]
    serial: str
    fingerprint_sha256: str
    not_before: dt.datetime
    not_after: dt.datetime
    public_key_der: bytes


def certificate_facts(cert_pem: bytes) -> CertificateFacts:
    """What the inventory records of a signed certificate (public facts only)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        common_name=next((a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)), ""),
        organisations=tuple(a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)),
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key_der=cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def csr_public_key_der(csr_pem: bytes) -> bytes:
    csr = x509.load_pem_x509_csr(csr_pem)
    return csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
