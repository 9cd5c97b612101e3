"""CertificateSigningRequest strategy: the requester recorded on create, the request and conditions validated.

Upstream this is the registry, not an admission plugin: pkg/registry/certificates/certificates/strategy.go
and pkg/apis/certificates/validation/validation.go.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509

from .. import errors
from ..types import UserInfo
from .plugin import AdmissionRequest, Plugin, go_quote, join_quote, object_name


class CSRStrategy(Plugin):
    operations = frozenset({"CREATE", "UPDATE"})

    def admit(self, a: AdmissionRequest) -> None:
        if not (a.rt.group == "certificates.k8s.io" and a.rt.plural == "certificatesigningrequests"):
            return
        obj = a.obj
        if a.operation == "CREATE" and not a.subresource:
            prepare_for_create(obj, a.user)
            causes = validate_csr(obj)
            if causes:
                raise errors.invalid("certificates.k8s.io", "CertificateSigningRequest", object_name(obj, ""), causes)
        if a.subresource in ("approval", "status") and a.operation == "UPDATE":
            populate_condition_timestamps(obj, a.old)
            causes = validate_csr_conditions(obj)
            if causes:
                raise errors.invalid("certificates.k8s.io", "CertificateSigningRequest", object_name(obj, ""), causes)


def prepare_for_create(obj: dict, user: UserInfo) -> None:
    """PrepareForCreate: the requester's identity is recorded by the server, never trusted from the body."""
    spec = obj.setdefault("spec", {})
    spec["username"] = user.name
    spec["groups"] = list(user.groups)
    if user.uid:
        spec["uid"] = user.uid
    else:
        spec.pop("uid", None)
    if user.extra:
        spec["extra"] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in user.extra.items()}
    else:
        spec.pop("extra", None)
    obj.pop("status", None)


_VALID_USAGES = sorted({
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
    "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc",
})
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _go_bytes(data: bytes) -> str:
    """Go's %#v of a []byte, as field.Invalid prints a CSR request."""
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def parse_csr(request: bytes) -> x509.CertificateSigningRequest:
    """certificates.ParseCSR + CheckSignature; raises ValueError with the real message."""
    text = request.decode("ascii", errors="replace")
    match = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----", text)
    if not match or match.group(1) != "CERTIFICATE REQUEST" or "-----END CERTIFICATE REQUEST-----" not in text:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(request)
    except ValueError as exc:
        raise ValueError(f"asn1: structure error: {exc}") from None
    if not csr.is_signature_valid:
        raise ValueError("x509: ECDSA verification failure" if "EC" in type(csr.public_key()).__name__
                         else "crypto/rsa: verification error")
    return csr


def validate_csr(obj: dict) -> list[dict]:
    """ValidateCertificateRequestCreate: the field errors as Status causes."""
    spec = obj.get("spec") or {}
    causes: list[dict] = []
    raw = spec.get("request")
    try:
        request = base64.b64decode(raw or "", validate=True)
    except (binascii.Error, ValueError):
        request = str(raw or "").encode()
    try:
        parse_csr(request)
    except ValueError as exc:
        causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {_go_bytes(request)}: {exc}",
                       "field": "spec.request"})
    usages = spec.get("usages") or []
    if not usages:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.usages"})
    seen = set()
    for i, usage in enumerate(usages):
        if usage not in _VALID_USAGES:
            causes.append({"reason": "FieldValueNotSupported",
                           "message": f"Unsupported value: {go_quote(str(usage))}: supported values: {join_quote(_VALID_USAGES)}",
                           "field": f"spec.usages[{i}]"})
        if usage in seen:
            causes.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {go_quote(str(usage))}",
                           "field": f"spec.usages[{i}]"})
        seen.add(usage)
    signer = spec.get("signerName") or ""
    if not signer:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.signerName"})
    elif signer == "kubernetes.io/legacy-unknown":
        causes.append({"reason": "FieldValueInvalid",
                       "message": f"Invalid value: {go_quote(signer)}: the legacy signerName is not allowed via this API version",
                       "field": "spec.signerName"})
    else:
        domain, _, path = signer.partition("/")
        if not path:
            causes.append({"reason": "FieldValueInvalid",
                           "message": f"Invalid value: {go_quote(signer)}: must be a fully qualified domain and path of the form 'example.com/signer-name'",
                           "field": "spec.signerName"})
        elif not _DNS1123_SUBDOMAIN.match(domain) or "." not in domain:
            causes.append({"reason": "FieldValueInvalid",
                           "message": f"Invalid value: {go_quote(domain)}: should be a domain with at least two segments separated by dots",
                           "field": "spec.signerName"})
    seconds = spec.get("expirationSeconds")
    if seconds is not None and isinstance(seconds, int) and seconds < 600:
        causes.append({"reason": "FieldValueInvalid",
                       "message": f"Invalid value: {seconds}: may not specify a duration less than 600 seconds (10 minutes)",
                       "field": "spec.expirationSeconds"})
    return causes


def populate_condition_timestamps(new: dict, old: dict | None) -> None:
    """populateConditionTimestamps (CSR strategy): missing lastUpdateTime/lastTransitionTime become now.

    lastTransitionTime is kept from an existing condition of the same type and status.
    """
    import datetime as dt

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    old_conditions = ((old or {}).get("status") or {}).get("conditions") or []
    for cond in (new.get("status") or {}).get("conditions") or []:
        if not cond.get("lastUpdateTime"):
            cond["lastUpdateTime"] = now
        if not cond.get("lastTransitionTime"):
            previous = next((o.get("lastTransitionTime") for o in old_conditions if o.get("type") == cond.get("type")
                             and o.get("status") == cond.get("status") and o.get("lastTransitionTime")), None)
            cond["lastTransitionTime"] = previous or now


def validate_csr_conditions(obj: dict) -> list[dict]:
    """validateConditions for status/approval updates: types, statuses, duplicates, Approved xor Denied."""
    causes = []
    seen = set()
    approved = denied = False
    for i, cond in enumerate((obj.get("status") or {}).get("conditions") or []):
        ctype, status = cond.get("type") or "", cond.get("status") or ""
        path = f"status.conditions[{i}]"
        if not ctype:
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{path}.type"})
        if not status:
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{path}.status"})
        elif status not in ("False", "True", "Unknown"):
            causes.append({"reason": "FieldValueNotSupported",
                           "message": f'Unsupported value: {go_quote(status)}: supported values: "False", "True", "Unknown"',
                           "field": f"{path}.status"})
        if ctype in ("Approved", "Denied"):
            if ctype == "Approved":
                approved = True
            else:
                denied = True
            if status != "True":
                causes.append({"reason": "FieldValueInvalid",
                               "message": f"Invalid value: {go_quote(status)}: {ctype} condition may only be set to True",
                               "field": f"{path}.status"})
        if ctype in seen:
            causes.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {go_quote(ctype)}", "field": f"{path}.type"})
        seen.add(ctype)
    if approved and denied:
        causes.append({"reason": "FieldValueInvalid",
                       "message": "Invalid value: \"Approved, Denied\": Approved and Denied conditions are mutually exclusive",
                       "field": "status.conditions"})
    return causes

