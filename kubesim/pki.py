"""The cluster's PKI: CA, serving certificate, client certificates, CSR signing, SA tokens.

Everything is persisted in the state directory on first use and loaded on
later starts, so kubeconfigs and tokens issued before a restart keep working.
Keys are EC P-256, for certificates (fast to generate, accepted by kubectl and
Python's ssl) and for the ServiceAccount token signing key (ES256; kube-apiserver's
``--service-account-signing-key-file`` accepts ECDSA keys as well as RSA). A
P-256 key takes well under a millisecond to generate where RSA-2048 takes
around 0.1-0.2 s, which matters because every test gets a fresh state
directory. State directories created by older kubesim versions hold an RSA
``sa.key``: it is still loaded and signs/verifies RS256, so tokens issued
before an upgrade keep working.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .types import UserInfo

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = "https://kubernetes.default.svc.cluster.local"

_USAGE_EKU = {
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _write_private(path: Path, data: bytes) -> None:
    """Write a key file readable by the owner only, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(cn: str, groups: list[str] | tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class CertificateAuthority:
    """The cluster CA plus the ServiceAccount token signing key."""

    def __init__(self, state_dir: Path, ca_cert: x509.Certificate, ca_key,
                 sa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        self.state_dir = Path(state_dir)
        self.ca_cert = ca_cert
        self.ca_key = ca_key
        self.sa_key = sa_key
        self.ca_pem: bytes = ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_path = self.state_dir / "ca.crt"
        self._sa_public = sa_key.public_key()
        # The JWS algorithm follows the key type (ES256 for P-256, RS256 for a legacy RSA key).
        self._alg = "RS256" if isinstance(sa_key, rsa.RSAPrivateKey) else "ES256"
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self._sa_public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self._kid = _b64url(digest.finalize())
        self._serving: tuple[bytes, bytes] | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- load
    @classmethod
    def load_or_create(cls, state_dir: Path) -> CertificateAuthority:
        """Load the CA from ``state_dir`` or create it (and the SA signing key) there."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        ca_crt, ca_key_path, sa_key_path = state_dir / "ca.crt", state_dir / "ca.key", state_dir / "sa.key"
        if ca_crt.exists() and ca_key_path.exists():
            ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
            ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        else:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            name = _name("kubesim-ca")
            now = _now()
            ca_cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                  data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                  encipher_only=False, decipher_only=False),
                    critical=True,
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            _write_private(ca_key_path, _key_pem(ca_key))
            ca_crt.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        if sa_key_path.exists():
            sa_key = serialization.load_pem_private_key(sa_key_path.read_bytes(), None)
        else:
            sa_key = ec.generate_private_key(ec.SECP256R1())
            _write_private(sa_key_path, _key_pem(sa_key))
        return cls(state_dir, ca_cert, ca_key, sa_key)

    # ------------------------------------------------------------- issuing
    def _sign(self, subject: x509.Name, public_key, lifetime: dt.timedelta, *, client: bool, server_sans=None,
              ekus=None) -> x509.Certificate:
        # One clock reading for both bounds: notBefore = now - 5 min (backdated like
        # kube-controller-manager's signer), notAfter = now + lifetime. Reading the clock
        # twice let a second boundary between the readings stretch the lifetime by 1 s.
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + lifetime, self.ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False)
        )
        if ekus is None:
            ekus = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        if server_sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(server_sans), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def serving_cert(self) -> tuple[bytes, bytes]:
        """The HTTPS serving certificate (SANs 127.0.0.1, ::1, localhost), created once and persisted."""
        with self._lock:
            if self._serving is not None:
                return self._serving
            crt, key = self.state_dir / "serving.crt", self.state_dir / "serving.key"
            if crt.exists() and key.exists():
                self._serving = (crt.read_bytes(), key.read_bytes())
                return self._serving
            import ipaddress

            skey = ec.generate_private_key(ec.SECP256R1())
            sans = [
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]
            cert = self._sign(_name("kube-apiserver"), skey.public_key(), dt.timedelta(days=3650),
                              client=False, server_sans=sans)
            cert_pem, key_pem = cert.public_bytes(serialization.Encoding.PEM), _key_pem(skey)
            _write_private(key, key_pem)
            crt.write_bytes(cert_pem)
            self._serving = (cert_pem, key_pem)
            return self._serving

    def issue_client_cert(self, cn: str, groups: list[str] | tuple[str, ...] = (), seconds: int = 365 * 86400) -> tuple[bytes, bytes]:
        """A fresh key pair and a client certificate for ``cn`` in ``groups`` (O=)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._sign(_name(cn, list(groups)), key.public_key(), dt.timedelta(seconds=seconds), client=True)
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def sign_csr(self, csr_pem: bytes, usages: list[str], expiration_seconds: int | None) -> bytes:
        """Sign a PEM CSR; the certificate's subject is the CSR's (CN/O), usages map to EKUs.

        Raises ``ValueError`` if the request is not a valid, self-signed PEM CSR.
        """
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("CSR signature is invalid")
        seconds = expiration_seconds if expiration_seconds else 365 * 86400
        ekus = [_USAGE_EKU[u] for u in usages if u in _USAGE_EKU]
        cert = self._sign(csr.subject, csr.public_key(), dt.timedelta(seconds=seconds), client=True, ekus=ekus)
        return cert.public_bytes(serialization.Encoding.PEM)

    def identity_from_cert(self, cert_der: bytes) -> UserInfo | None:
        """The user a client certificate names, if the CA signed it and it is within validity."""
        try:
            cert = x509.load_der_x509_certificate(cert_der)
            cert.verify_directly_issued_by(self.ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            return None
        now = _now()
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            return None
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not cns or not cns[0].value:
            return None
        groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        return UserInfo(name=str(cns[0].value), groups=groups)

    # ------------------------------------------------------------- tokens
    def issue_token(self, namespace: str, name: str, uid: str, seconds: int = 3600, *,
                    audiences: list[str] | None = None, bound_object: dict | None = None) -> str:
        """A ServiceAccount JWT (ES256, or RS256 for a legacy RSA key) in the shape of a bound token from the TokenRequest API."""
        now = int(time.time())
        claims = {
            "aud": audiences or [AUDIENCE],
            "exp": now + int(seconds),
            "iat": now,
            "nbf": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": uid},
            },
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        if bound_object:
            claims["kubernetes.io"][bound_object["kind"].lower()] = {"name": bound_object["name"], "uid": bound_object.get("uid", "")}
        header = {"alg": self._alg, "kid": self._kid}
        signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + _b64url(
            json.dumps(claims, separators=(",", ":")).encode()
        )
        return signing_input + "." + _b64url(self._jws_sign(signing_input.encode()))

    def _jws_sign(self, data: bytes) -> bytes:
        """The JWS signature of ``data`` with the SA key (RFC 7518: ES256 is the raw 64-byte r||s, not DER)."""
        if self._alg == "RS256":
            return self.sa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.sa_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _jws_verify(self, signature: bytes, data: bytes) -> None:
        """Raise ``InvalidSignature`` unless ``signature`` is a valid JWS signature of ``data``."""
        if self._alg == "RS256":
            self._sa_public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return
        if len(signature) != 64:
            raise InvalidSignature("ES256 signature must be 64 bytes")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        self._sa_public.verify(der, data, ec.ECDSA(hashes.SHA256()))

    def verify_token(self, token: str) -> dict | None:
        """The claims of a token this CA issued, if its signature, issuer and time window are valid."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_b64url_decode(parts[0]))
            # Only the algorithm of our own key: never let the token pick it (alg confusion).
            if not isinstance(header, dict) or header.get("alg") != self._alg:
                return None
            self._jws_verify(_b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode())
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, InvalidSignature, TypeError):
            return None
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
            return None
        now = time.time()
        if claims.get("exp", 0) < now or claims.get("nbf", 0) > now + 60:
            return None
        return claims
