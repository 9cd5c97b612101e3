"""Kubeconfig issuance through the real ``apps.clusters.kube`` against kubesim (no worker needed)."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.clusters import kube
from apps.onboarding.models import IssuedCertificate
from tests.onboarding.conftest import kubeconfig_parts, make_csr

pytestmark = pytest.mark.integration

KC = "/api/v1/kubeconfigs/"


def csr_objects(cluster):
    return kube.list_objects(cluster, "certificates.k8s.io/v1", "CertificateSigningRequest")


def test_user_csr_is_signed_with_configured_lifetime_and_cleaned_up(kubesim_cluster, member, api_client_for, settings,
                                                                    monkeypatch):
    handle, cluster = kubesim_cluster
    settings.KUBECONFIG_CERT_SECONDS = 3600
    seen = []
    real_delete = kube.delete_csr

    def delete_and_remember(cluster_, name):
        seen.append(kube.get_object(cluster_, "certificates.k8s.io/v1", "CertificateSigningRequest", name))
        return real_delete(cluster_, name)

    monkeypatch.setattr(kube, "delete_csr", delete_and_remember)
    csr = make_csr("portal:alice", key=rsa.generate_private_key(65537, 2048)).decode()
    r = api_client_for(member).post(KC, {"cluster": cluster.name, "csr": csr}, format="json")
    assert r.status_code == 201, r.content
    cert = x509.load_pem_x509_certificate(kubeconfig_parts(r.json()["kubeconfig"])["cert"])
    assert cert.subject.rfc4514_string() == "CN=portal:alice"
    lifetime = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    assert abs(lifetime - 3600) <= 300  # signers may backdate notBefore a little
    assert r.json()["key_algorithm"] == "RSA 2048"
    assert csr_objects(cluster) == []
    # The CSR the cluster saw: the client signer, client auth + digital signature, the lifetime, approved by the portal.
    (csr_obj,) = seen
    assert csr_obj["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"
    assert sorted(csr_obj["spec"]["usages"]) == ["client auth", "digital signature"]
    assert csr_obj["spec"]["expirationSeconds"] == 3600
    assert csr_obj["spec"]["username"] == "system:serviceaccount:platform-portal:portal"
    assert any(c["type"] == "Approved" for c in csr_obj["status"]["conditions"])


def test_never_signed_is_504_csr_deleted_nothing_recorded(kubesim_cluster, member, api_client_for, settings, monkeypatch):
    handle, cluster = kubesim_cluster
    settings.KUBECONFIG_CSR_TIMEOUT_SECONDS = 1
    # A cluster whose signer is not running: approval is accepted, no certificate ever comes.
    monkeypatch.setattr(handle.controllers, "sign_if_approved", lambda csr: None)
    r = api_client_for(member).post(KC, {"cluster": cluster.name}, format="json")
    assert r.status_code == 504 and "did not sign the certificate within 1s" in r.json()["detail"]
    assert csr_objects(cluster) == [] and not IssuedCertificate.objects.exists()


def test_cluster_failing_is_502_nothing_recorded(kubesim_cluster, member, api_client_for):
    handle, cluster = kubesim_cluster
    handle.faults.error_rate(1.0, status=503, resources=("certificatesigningrequests",))
    r = api_client_for(member).post(KC, {"cluster": cluster.name}, format="json")
    assert r.status_code == 502 and "could not issue the certificate" in r.json()["detail"]
    handle.faults.clear()
    assert csr_objects(cluster) == [] and not IssuedCertificate.objects.exists()
