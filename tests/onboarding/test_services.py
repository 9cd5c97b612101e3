"""Kubeconfig issuance and the onboarding KPI, against a fake signer (real certificates)."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.audit.models import AuditEvent
from apps.onboarding.models import IssuedCertificate, Onboarding
from apps.onboarding.services import KubeconfigIssueError, certificate_lifetime_seconds, kubeconfig_issue, membership_request_submit, onboarding_check_access
from tests.conftest import make_user
from tests.onboarding.conftest import kubeconfig_parts, make_csr

pytestmark = pytest.mark.django_db


def test_portal_generated_key_kubeconfig_is_complete_and_recorded(member, fake_cluster, team_namespace, signer):
    issued = kubeconfig_issue(actor=member, cluster=fake_cluster, namespace=team_namespace, reason="laptop")
    parts = kubeconfig_parts(issued.kubeconfig)
    cert = x509.load_pem_x509_certificate(parts["cert"])
    key = serialization.load_pem_private_key(parts["key"], None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.subject.rfc4514_string() == "CN=portal:alice"
    assert parts["namespace"] == "payments-dev"
    assert parts["config"]["clusters"][0]["cluster"]["server"] == fake_cluster.api_server_url
    assert issued.includes_key
    record = issued.certificate
    assert record.serial == format(cert.serial_number, "x")
    assert record.key_mode == IssuedCertificate.KeyMode.PORTAL and record.reason == "laptop"
    assert record.not_after == cert.not_valid_after_utc
    # The CSR went through create -> approve -> wait and was deleted afterwards.
    assert [verb for verb, _ in signer.calls] == ["create", "approve", "wait", "delete"]
    assert signer.csrs == {}
    event = AuditEvent.objects.get(action="kubeconfig.issue")
    assert event.after["fingerprint_sha256"] == record.fingerprint_sha256
    # The private key is never stored or audited.
    key_text = parts["key"].decode()
    assert key_text.splitlines()[1] not in str(event.after)
    assert not IssuedCertificate.objects.filter(subject__contains="PRIVATE").exists()


def test_user_csr_kubeconfig_has_no_key(member, fake_cluster, signer):
    issued = kubeconfig_issue(actor=member, cluster=fake_cluster, csr_pem=make_csr("portal:alice"))
    parts = kubeconfig_parts(issued.kubeconfig)
    assert parts["key"] is None and not issued.includes_key
    assert issued.certificate.key_mode == IssuedCertificate.KeyMode.USER
    assert parts["namespace"] == "default"


def test_default_namespace_is_the_users_first_namespace(member, fake_cluster, team_namespace, signer):
    issued = kubeconfig_issue(actor=member, cluster=fake_cluster)
    assert kubeconfig_parts(issued.kubeconfig)["namespace"] == "payments-dev"


def test_bad_csr_never_reaches_the_cluster(member, fake_cluster, signer):
    with pytest.raises(ValidationError) as info:
        kubeconfig_issue(actor=member, cluster=fake_cluster, csr_pem=make_csr("portal:root", orgs=["system:masters"]))
    assert "cn:" in info.value.message_dict["csr"][0]
    assert signer.calls == [] and not IssuedCertificate.objects.exists()


def test_user_without_team_gets_nothing(fake_cluster, signer):
    loner = make_user("newbie")
    with pytest.raises(PermissionDenied, match="join a team"):
        kubeconfig_issue(actor=loner, cluster=fake_cluster)
    assert signer.calls == []


@pytest.mark.parametrize("mode,fragment,timeout", [
    ("deny", "denied", False),
    ("hang", "did not sign the certificate within", True),
    ("down", "could not issue", False),
])
def test_cluster_failures_record_nothing_and_clean_up(member, fake_cluster, signer, mode, fragment, timeout):
    signer.mode = mode
    with pytest.raises(KubeconfigIssueError) as info:
        kubeconfig_issue(actor=member, cluster=fake_cluster)
    assert fragment in str(info.value) and info.value.timeout is timeout
    assert not IssuedCertificate.objects.exists()
    assert not AuditEvent.objects.filter(action="kubeconfig.issue").exists()
    assert signer.csrs == {}  # deleted (or never created when the cluster was down)
    if mode != "down":
        assert signer.calls[-1][0] == "delete"


@override_settings(KUBECONFIG_CERT_SECONDS=3600, KUBECONFIG_CERT_MAX_SECONDS=7200)
def test_lifetime_defaults_and_is_capped(member, fake_cluster, signer):
    assert certificate_lifetime_seconds() == 3600
    assert certificate_lifetime_seconds(10**9) == 7200
    assert certificate_lifetime_seconds(60) == 600  # Kubernetes' minimum
    issued = kubeconfig_issue(actor=member, cluster=fake_cluster, expiration_seconds=10**9)
    lifetime = issued.certificate.not_after - issued.certificate.not_before
    assert abs(lifetime.total_seconds() - 7200) < 5


def test_namespace_on_another_cluster_is_refused(member, fake_cluster, team_namespace, signer):
    from apps.clusters.models import Cluster

    other = Cluster.objects.create(name="other", api_server_url="https://10.0.0.1", ca_bundle="x", auth_kind="token")
    with pytest.raises(ValidationError):
        kubeconfig_issue(actor=member, cluster=other, namespace=team_namespace)
    assert signer.calls == []


def _approved_join(requester, manager, team):
    req = membership_request_submit(actor=requester, team=team, role="member", note="hi")
    return request_approve(actor=manager, request=req, reason="welcome")


def test_onboarding_kpi_counts_system_time_only(manager, team, fake_cluster, team_namespace, signer, django_capture_on_commit_callbacks):
    newbie = make_user("newbie")
    with django_capture_on_commit_callbacks(execute=False):
        req = _approved_join(newbie, manager, team)
    onboarding = Onboarding.objects.get(request=req)
    assert req.state == Request.State.APPLYING
    # Bindings not there yet: not ready, request still applying.
    assert onboarding_check_access(onboarding.pk) is False
    signer.bind("payments-dev", "portal:newbie")
    assert onboarding_check_access(onboarding.pk) is True
    req.refresh_from_db()
    assert req.state == Request.State.DONE and req.finished_at
    # Pretend the approval happened 5 s before the bindings and the user waited 60 s to click download.
    onboarding.refresh_from_db()
    Onboarding.objects.filter(pk=onboarding.pk).update(
        approved_at=onboarding.access_ready_at - dt.timedelta(seconds=5),
        submitted_at=onboarding.access_ready_at - dt.timedelta(seconds=600))
    ready_at = onboarding.access_ready_at
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timezone, "now", lambda: ready_at + dt.timedelta(seconds=60))
        kubeconfig_issue(actor=newbie, cluster=fake_cluster)
    onboarding.refresh_from_db()
    assert onboarding.completed_at is not None
    # 5 s of system time before the bindings + the issuance itself; the 60 s idle are excluded.
    assert 5 <= onboarding.seconds_from_approval < 6
    assert onboarding.seconds_from_submission > 600


def test_join_without_namespaces_is_ready_at_once(manager, team, signer, django_capture_on_commit_callbacks):
    newbie = make_user("newbie")
    with django_capture_on_commit_callbacks(execute=False):
        req = _approved_join(newbie, manager, team)
    assert onboarding_check_access(Onboarding.objects.get(request=req).pk) is True
