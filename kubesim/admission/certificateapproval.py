"""CertificateApproval: approving or denying a CSR needs ``approve`` on signers/<signerName> (or <domain>/*).

As plugin/pkg/admission/certificates/approval/admission.go.
"""

from __future__ import annotations

from ..types import UserInfo
from .plugin import AdmissionRequest, Plugin, forbidden, go_quote


class CertificateApproval(Plugin):
    operations = frozenset({"UPDATE"})

    def admit(self, a: AdmissionRequest) -> None:
        rt, obj = a.rt, a.obj
        if not (rt.group == "certificates.k8s.io" and rt.plural == "certificatesigningrequests" and a.subresource == "approval"):
            return
        signer = (obj.get("spec") or {}).get("signerName") or ""
        if self.authorized_for_signer(a.user, "approve", signer):
            return
        raise forbidden(rt, obj, f"user not permitted to approve requests with signerName {go_quote(signer)}")

    def authorized_for_signer(self, user: UserInfo, verb: str, signer: str) -> bool:
        """certificates.IsAuthorizedForSignerName: the exact signer, then the ``<domain>/*`` wildcard."""
        if self.authorized(user, verb, "signers", signer, "", "certificates.k8s.io"):
            return True
        domain = signer.split("/", 1)[0]
        return self.authorized(user, verb, "signers", f"{domain}/*", "", "certificates.k8s.io")
