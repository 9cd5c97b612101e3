"""The Kubernetes gateway against kubesim, authenticated as the portal's least-privilege ServiceAccount."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s

from apps.accounts.models import User
from apps.clusters import kube
from apps.clusters.models import Cluster
from apps.core.errors import ClusterError
from apps.namespaces import manifests
from apps.namespaces.models import Namespace
from apps.teams.models import Membership, Team
from tests.conftest import official_client

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


def bundle(name="payments-dev", quota=None, members=(("alice", "member"),)):
    ns = Namespace(name=name, team=Team(slug="payments", contact="#payments"), quota=quota or dict(QUOTA), uid=NAMESPACE_UID)
    return manifests.render_bundle(ns, [Membership(user=User(username=u), role=r) for u, r in members])


NAMESPACE_UID = "8d1b8c52-0c7e-4a43-9a53-0a5d1f0b6a11"
# The mark of every bundle() above: the managed-by label and the row's id.
MARK = kube.Ownership(labels={"app.kubernetes.io/managed-by": "platform-portal"},
                      annotations={"portal.platform.io/namespace-id": NAMESPACE_UID})


@pytest.fixture
def admin_api(kubesim_cluster):
    handle, _ = kubesim_cluster
    with official_client(handle.admin_kubeconfig) as api:
        yield api


def make_csr(common_name: str, groups=()) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


# --- apply -------------------------------------------------------------------------------


def test_apply_creates_every_object_with_one_patch_each_under_the_portal_field_manager(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    objects = bundle()
    handle.request_log.clear()

    applied = kube.apply(cluster, objects, ownership=MARK)

    writes = handle.request_log.writes()
    # A create that fails if the name exists (never adopt), then one apply per object.
    assert [(w.verb, w.method) for w in writes] == [("create", "POST")] + [("patch", "PATCH")] * len(objects)
    assert all(w.status in (200, 201) for w in writes)
    assert all("fieldManager=platform-portal" in w.query for w in writes)
    assert all("force=true" in w.query for w in writes[1:])
    assert applied.created is True and applied.namespace_uid and len(applied.objects) == len(objects)
    core, rbac, net = k8s.CoreV1Api(admin_api), k8s.RbacAuthorizationV1Api(admin_api), k8s.NetworkingV1Api(admin_api)
    live_ns = core.read_namespace("payments-dev")
    assert live_ns.metadata.labels["app.kubernetes.io/managed-by"] == "platform-portal"
    assert {(m.manager, m.operation) for m in live_ns.metadata.managed_fields} == {("platform-portal", "Apply"), ("platform-portal", "Update")}
    assert live_ns.metadata.annotations["portal.platform.io/namespace-id"] == NAMESPACE_UID
    assert core.read_namespaced_resource_quota("team-quota", "payments-dev").spec.hard == QUOTA
    assert core.read_namespaced_limit_range("container-defaults", "payments-dev").spec.limits[0].default == {"cpu": "500m", "memory": "512Mi"}
    assert {p.metadata.name for p in net.list_namespaced_network_policy("payments-dev").items} == {"default-deny-ingress", "allow-same-namespace"}
    binding = rbac.read_namespaced_role_binding("portal-alice-edit", "payments-dev")
    assert (binding.role_ref.name, binding.subjects[0].kind, binding.subjects[0].name) == ("edit", "User", "portal:alice")


def test_apply_with_force_takes_back_a_field_someone_edited_by_hand(kubesim_cluster, admin_api):
    _, cluster = kubesim_cluster
    kube.apply(cluster, bundle(), ownership=MARK)
    core = k8s.CoreV1Api(admin_api)
    core.patch_namespaced_resource_quota("team-quota", "payments-dev", {"spec": {"hard": {"limits.cpu": "64"}}})

    kube.apply(cluster, bundle(), ownership=MARK)

    assert core.read_namespaced_resource_quota("team-quota", "payments-dev").spec.hard["limits.cpu"] == "2"


def test_the_least_privilege_account_can_bind_admin_edit_view_without_holding_them(kubesim_cluster, admin_api):
    _, cluster = kubesim_cluster

    kube.apply(cluster, bundle(members=(("alice", "member"), ("bob", "manager"), ("victor", "viewer"))), ownership=MARK)

    names = {b.metadata.name for b in k8s.RbacAuthorizationV1Api(admin_api).list_namespaced_role_binding("payments-dev").items}
    assert {"portal-alice-edit", "portal-bob-admin", "portal-victor-view"} <= names


def test_list_get_delete_and_quota_status(kubesim_cluster):
    _, cluster = kubesim_cluster
    kube.apply(cluster, bundle(members=(("alice", "member"), ("bob", "manager"))), ownership=MARK)

    listed = kube.list_objects(cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", "payments-dev",
                               label_selector="app.kubernetes.io/managed-by=platform-portal")
    assert sorted(b["metadata"]["name"] for b in listed) == ["portal-alice-edit", "portal-bob-admin"]
    assert kube.get_object(cluster, "v1", "LimitRange", "container-defaults", "payments-dev")["kind"] == "LimitRange"
    assert kube.get_object(cluster, "v1", "LimitRange", "nope", "payments-dev") is None
    status = kube.read_quota(cluster, "payments-dev", "team-quota")
    assert status["hard"] == QUOTA and set(status["used"]) == set(QUOTA)
    assert kube.delete_object(cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", "portal-bob-admin", "payments-dev") is True
    assert kube.delete_object(cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", "portal-bob-admin", "payments-dev") is False
    assert kube.delete_namespace(cluster, "payments-dev", ownership=MARK) is True
    assert kube.delete_namespace(cluster, "payments-dev", ownership=MARK) is False


def test_get_version_reports_the_server(cluster):
    assert kube.get_version(cluster).startswith("v1.")


# --- errors --------------------------------------------------------------------------------


def test_forbidden_is_not_retryable_and_carries_the_clusters_message(kubesim_cluster, tmp_path):
    handle, _ = kubesim_cluster
    from apps.clusters.services import cluster_register

    token = handle.service_account_token("default", "default")
    weak = cluster_register(actor=None, name="weak", kubeconfig=handle.token_kubeconfig(token, tmp_path / "w.kubeconfig").read_text())

    with pytest.raises(ClusterError) as err:
        kube.apply(weak, bundle(), ownership=MARK)

    assert err.value.status == 403 and err.value.retryable is False
    assert 'User "system:serviceaccount:default:default" cannot get resource "namespaces"' in str(err.value)
    assert str(err.value).startswith("weak: get Namespace payments-dev: ")


def test_invalid_object_is_not_retryable(cluster):
    objects = bundle()
    kube.apply(cluster, objects[:1], ownership=MARK)
    quota = objects[1]
    quota["spec"]["hard"]["limits.cpu"] = "two"

    with pytest.raises(ClusterError) as err:
        kube.apply(cluster, [objects[0], quota], ownership=MARK)

    assert err.value.status in (400, 422) and err.value.retryable is False
    assert "quantit" in str(err.value)  # the API server's own message about the bad quantity


def test_an_apply_that_does_not_fit_the_schema_fails_for_good(cluster):
    """A real API server answers such an apply with a bare 500 (kubernetes/kubernetes#122480);
    retrying cannot help, so it must not be retried."""
    objects = bundle()
    kube.apply(cluster, objects[:1], ownership=MARK)
    policy = objects[3]
    policy["spec"]["policyType"] = ["Ingress"]  # typo for policyTypes

    with pytest.raises(ClusterError) as err:
        kube.apply(cluster, [objects[0], policy], ownership=MARK)

    assert err.value.status == 500 and err.value.retryable is False
    assert "failed to create typed patch object" in str(err.value)
    assert "policyType" in str(err.value)


# --- ownership: never adopt, never delete what is not the portal's ------------------------------


def portal_writes(handle):
    return [w for w in handle.request_log.writes() if w.user == "system:serviceaccount:platform-portal:portal"]


def test_an_existing_namespace_without_the_mark_is_refused_and_nothing_is_written(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    k8s.CoreV1Api(admin_api).create_namespace({"metadata": {"name": "payments-dev"}})
    handle.request_log.clear()

    with pytest.raises(kube.NotOwnedError) as err:
        kube.apply(cluster, bundle(), ownership=MARK)

    assert "namespace payments-dev exists on the cluster and is not managed by the portal" in str(err.value)
    assert err.value.retryable is False
    assert portal_writes(handle) == []


def test_a_copied_label_is_not_enough(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    k8s.CoreV1Api(admin_api).create_namespace({"metadata": {"name": "payments-dev", "labels": {"app.kubernetes.io/managed-by": "platform-portal"},
                                                            "annotations": {"portal.platform.io/namespace-id": "someone-elses-row"}}})
    handle.request_log.clear()

    with pytest.raises(kube.NotOwnedError):
        kube.apply(cluster, bundle(), ownership=MARK)
    with pytest.raises(kube.NotOwnedError):
        kube.delete_namespace(cluster, "payments-dev", ownership=MARK)

    assert portal_writes(handle) == []
    assert k8s.CoreV1Api(admin_api).read_namespace("payments-dev").status.phase == "Active"


def test_a_namespace_recreated_by_someone_else_with_a_copied_mark_is_not_ours(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    first = kube.apply(cluster, bundle(), ownership=MARK)
    core = k8s.CoreV1Api(admin_api)
    core.delete_namespace("payments-dev")
    kubesim_wait_gone(core, "payments-dev")
    core.create_namespace({"metadata": {"name": "payments-dev", "labels": dict(MARK.labels), "annotations": dict(MARK.annotations)}})
    recorded = kube.Ownership(labels=MARK.labels, annotations=MARK.annotations, uid=first.namespace_uid)
    handle.request_log.clear()

    with pytest.raises(kube.NotOwnedError):
        kube.apply(cluster, bundle(), ownership=recorded)
    with pytest.raises(kube.NotOwnedError):
        kube.delete_namespace(cluster, "payments-dev", ownership=recorded)

    assert portal_writes(handle) == []


def kubesim_wait_gone(core, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except k8s.ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.05)
    raise AssertionError(f"namespace {name} still exists")


def test_a_namespace_created_between_the_check_and_the_create_is_not_adopted(kubesim_cluster, admin_api, monkeypatch):
    handle, cluster = kubesim_cluster
    k8s.CoreV1Api(admin_api).create_namespace({"metadata": {"name": "payments-dev"}})
    real_get = kube.get_object
    # The read happens before the other party's create: it still sees nothing.
    monkeypatch.setattr(kube, "get_object", lambda c, v, k, n, ns=None: None if k == "Namespace" else real_get(c, v, k, n, ns))
    handle.request_log.clear()

    with pytest.raises(kube.NotOwnedError) as err:
        kube.apply(cluster, bundle(), ownership=MARK)

    assert "someone else created it just now" in str(err.value)
    writes = portal_writes(handle)
    assert [(w.verb, w.status) for w in writes] == [("create", 409)]  # refused by the cluster; nothing patched


def test_an_admin_adoption_writes_to_exactly_the_confirmed_namespace(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    core = k8s.CoreV1Api(admin_api)
    uid = core.create_namespace({"metadata": {"name": "payments-dev"}}).metadata.uid
    # The record of the admin's adoption (what the suite-wide ownership guard accepts).
    Namespace.objects.create(cluster=cluster, name="payments-dev", team=Team.objects.create(slug="payments"), adopted=True, cluster_uid=uid)

    with pytest.raises(kube.NotOwnedError):
        kube.apply(cluster, bundle(), ownership=kube.Ownership(labels=MARK.labels, annotations=MARK.annotations, uid="other", adopted=True))
    applied = kube.apply(cluster, bundle(), ownership=kube.Ownership(labels=MARK.labels, annotations=MARK.annotations, uid=uid, adopted=True))

    assert applied.created is False and applied.namespace_uid == uid
    assert core.read_namespace("payments-dev").metadata.annotations["portal.platform.io/namespace-id"] == NAMESPACE_UID


def test_a_refused_bundle_removes_the_namespace_this_attempt_created(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    objects = bundle()
    objects[3]["spec"]["policyType"] = ["Ingress"]  # refused for good, after the Namespace was created

    with pytest.raises(ClusterError) as err:
        kube.apply(cluster, objects, ownership=MARK)

    assert err.value.retryable is False
    assert "the namespace created for this attempt was removed" in str(err.value)
    kubesim_wait_gone(k8s.CoreV1Api(admin_api), "payments-dev")


def test_a_retryable_failure_keeps_the_namespace_and_the_next_attempt_resumes(kubesim_cluster, admin_api):
    handle, cluster = kubesim_cluster
    handle.faults.fail_next(1, status=503, verbs=("patch",), resources=("resourcequotas",))
    objects = bundle()
    with pytest.raises(ClusterError) as err:
        kube.apply(cluster, objects, ownership=MARK)  # stops after the Namespace: the cluster is in trouble
    assert err.value.retryable is True and "removed" not in str(err.value)
    assert k8s.CoreV1Api(admin_api).read_namespace("payments-dev").metadata.name == "payments-dev"

    applied = kube.apply(cluster, objects, ownership=MARK)

    assert applied.created is False
    assert k8s.CoreV1Api(admin_api).read_namespaced_resource_quota("team-quota", "payments-dev").spec.hard == QUOTA


def test_namespaces_are_never_deleted_through_the_generic_delete(cluster):
    with pytest.raises(ValueError):
        kube.delete_object(cluster, "v1", "Namespace", "payments-dev")


def test_whoami_names_the_portal_service_account(cluster):
    assert kube.whoami(cluster) == "system:serviceaccount:platform-portal:portal"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_retryable(kubesim_cluster, status):
    handle, cluster = kubesim_cluster
    handle.faults.fail_next(1, status=status)

    with pytest.raises(ClusterError) as err:
        kube.get_version(cluster)

    assert err.value.status == status and err.value.retryable is True
    assert kube.get_version(cluster)  # the fault was one-shot


def test_dropped_connection_is_retryable(kubesim_cluster):
    handle, cluster = kubesim_cluster
    handle.faults.fail_next(1, drop=True)

    with pytest.raises(ClusterError) as err:
        kube.get_version(cluster)

    assert err.value.retryable is True and err.value.status is None


def test_slow_cluster_hits_the_request_timeout(kubesim_cluster, settings):
    handle, cluster = kubesim_cluster
    settings.KUBE_REQUEST_TIMEOUT_SECONDS = 1
    handle.faults.latency(3)

    started = time.monotonic()
    with pytest.raises(ClusterError) as err:
        kube.get_version(cluster)

    assert time.monotonic() - started < 2.5
    assert err.value.retryable is True and "unreachable" in str(err.value)


def test_unreachable_cluster_is_retryable(db):
    cluster = Cluster(name="gone", api_server_url="https://127.0.0.1:1", ca_bundle="", auth_kind="token")
    cluster.set_credentials({"token": "x"})

    with pytest.raises(ClusterError) as err:
        kube.get_version(cluster)

    assert err.value.retryable is True and "unreachable" in str(err.value)


def test_untrusted_server_certificate_is_refused_and_not_retryable(kubesim_cluster):
    handle, cluster = kubesim_cluster
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other-ca")])
    now = datetime.now(UTC)
    other_ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    impostor = Cluster(name="impostor", api_server_url=cluster.api_server_url, auth_kind="token",
                       ca_bundle=other_ca.public_bytes(serialization.Encoding.PEM).decode())
    impostor.set_credentials(cluster.get_credentials())

    with pytest.raises(ClusterError) as err:
        kube.get_version(impostor)

    assert err.value.retryable is False and "TLS" in str(err.value)


# --- clients ---------------------------------------------------------------------------------


def test_client_is_cached_per_cluster_version_and_rebuilt_after_an_update(cluster):
    first = kube.api_client_for(cluster)
    assert kube.api_client_for(cluster) is first

    cluster.save()  # bumps updated_at, as re-registering does

    assert kube.api_client_for(cluster) is not first


def test_client_certificate_credentials_work_and_the_global_config_is_untouched(kubesim_cluster):
    handle, _ = kubesim_cluster
    from apps.clusters.services import cluster_register

    admin = cluster_register(actor=None, name="admin", kubeconfig=handle.admin_kubeconfig.read_text())

    assert admin.auth_kind == Cluster.AuthKind.CLIENT_CERTIFICATE
    assert kube.get_version(admin)
    # Never the process-global configuration (load_kube_config): it still points nowhere.
    assert handle.url not in (k8s.Configuration.get_default_copy().host or "")


# --- CSRs ----------------------------------------------------------------------------------------


def test_csr_create_approve_wait_delete(kubesim_cluster, admin_api):
    _, cluster = kubesim_cluster

    created = kube.create_csr(cluster, "portal-alice-1", make_csr("portal:alice"), 3600)
    assert created["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"
    assert created["spec"]["usages"] == ["client auth", "digital signature"]
    assert created["spec"]["expirationSeconds"] == 3600
    kube.approve_csr(cluster, "portal-alice-1", "approved by a test")
    pem = kube.wait_for_certificate(cluster, "portal-alice-1", timeout=5)

    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "portal:alice"
    conditions = k8s.CertificatesV1Api(admin_api).read_certificate_signing_request("portal-alice-1").status.conditions
    assert [(c.type, c.status, c.message) for c in conditions] == [("Approved", "True", "approved by a test")]
    assert kube.delete_csr(cluster, "portal-alice-1") is True
    assert kube.delete_csr(cluster, "portal-alice-1") is False


def test_wait_for_certificate_watches_instead_of_polling(kubesim_cluster):
    handle, cluster = kubesim_cluster
    kube.create_csr(cluster, "portal-bob-1", make_csr("portal:bob"), 3600)
    threading.Timer(0.5, kube.approve_csr, args=(cluster, "portal-bob-1", "later")).start()
    handle.request_log.clear()

    pem = kube.wait_for_certificate(cluster, "portal-bob-1", timeout=5)

    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    reads = [e for e in handle.request_log.entries() if e.resource == "certificatesigningrequests" and e.verb in ("get", "watch", "list")]
    # one GET and one WATCH, whatever the delay: no polling loop.
    assert len([e for e in reads if e.verb == "get"]) <= 2 and any(e.verb == "watch" for e in reads)


def test_wait_for_certificate_times_out_when_nobody_approves(cluster):
    kube.create_csr(cluster, "portal-carl-1", make_csr("portal:carl"), 3600)

    started = time.monotonic()
    with pytest.raises(ClusterError) as err:
        kube.wait_for_certificate(cluster, "portal-carl-1", timeout=1.5)

    assert 1.0 < time.monotonic() - started < 5
    assert err.value.retryable is True and "within 1.5s" in str(err.value)


def test_denied_csr_fails_without_retry(kubesim_cluster, admin_api):
    _, cluster = kubesim_cluster
    kube.create_csr(cluster, "portal-dan-1", make_csr("portal:dan"), 3600)
    api = k8s.CertificatesV1Api(admin_api)
    csr = api.read_certificate_signing_request("portal-dan-1")
    now = datetime.now(UTC)
    csr.status = k8s.V1CertificateSigningRequestStatus(conditions=[k8s.V1CertificateSigningRequestCondition(
        type="Denied", status="True", reason="Test", message="no", last_update_time=now, last_transition_time=now)])
    api.replace_certificate_signing_request_approval("portal-dan-1", csr)

    with pytest.raises(ClusterError) as err:
        kube.wait_for_certificate(cluster, "portal-dan-1", timeout=3)

    assert err.value.retryable is False and "denied" in str(err.value)


def test_a_csr_for_system_masters_is_never_sent(kubesim_cluster):
    handle, cluster = kubesim_cluster
    handle.request_log.clear()

    with pytest.raises(ClusterError) as err:
        kube.create_csr(cluster, "evil", make_csr("portal:mallory", groups=["system:masters"]), 3600)

    assert err.value.retryable is False
    assert handle.request_log.writes() == []


def test_csr_expiration_is_sent_and_the_certificate_honours_it(cluster):
    kube.create_csr(cluster, "portal-eve-1", make_csr("portal:eve"), 600)
    kube.approve_csr(cluster, "portal-eve-1", "short")
    cert = x509.load_pem_x509_certificate(kube.wait_for_certificate(cluster, "portal-eve-1", timeout=5))

    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= timedelta(seconds=600 + 300)  # signers backdate not_before by up to 5 minutes


def test_csr_request_field_is_the_base64_pem(kubesim_cluster, admin_api):
    _, cluster = kubesim_cluster
    pem = make_csr("portal:fay")

    kube.create_csr(cluster, "portal-fay-1", pem.decode(), 3600)

    stored = k8s.CertificatesV1Api(admin_api).read_certificate_signing_request("portal-fay-1").spec.request
    assert base64.b64decode(stored) == pem
