"""CertificateSubjectRestriction: kube-apiserver-client certificates may not carry the system:masters group.

As plugin/pkg/admission/certificates/subjectrestriction/admission.go.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509

from .csrstrategy import parse_csr
from .plugin import AdmissionRequest, Plugin, forbidden

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"


class CertificateSubjectRestriction(Plugin):
    operations = frozenset({"CREATE"})

    def admit(self, a: AdmissionRequest) -> None:
        rt, obj = a.rt, a.obj
        if not (rt.group == "certificates.k8s.io" and rt.plural == "certificatesigningrequests" and not a.subresource):
            return
        spec = obj.get("spec") or {}
        if spec.get("signerName") != KUBE_APISERVER_CLIENT:
            return
        try:
            csr = parse_csr(base64.b64decode(spec.get("request") or ""))
        except (ValueError, binascii.Error) as exc:
            raise forbidden(rt, obj, f"failed to parse CSR: {exc}") from None
        orgs = [attr.value for attr in csr.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)]
        if "system:masters" in orgs:
            raise forbidden(rt, obj, f"use of {KUBE_APISERVER_CLIENT} signer with system:masters group is not allowed")
