"""The official ``kubernetes`` Python client against kubesim.

Every client is built from the kubeconfig kubesim writes (``api_client_for``),
never from the library's global configuration, exactly as the portal does.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from tests.kubesim.conftest import api_client_for
from tests.kubesim.test_kubectl import make_csr


def _status(exc: ApiException) -> dict:
    import json

    return json.loads(exc.body)


def test_core_v1_namespaces_quota_and_errors(admin_client):
    core = client.CoreV1Api(admin_client)
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team-a", labels={"team": "a"})))
    assert ns.metadata.uid and ns.status.phase == "Active"
    names = [n.metadata.name for n in core.list_namespace(label_selector="team=a").items]
    assert names == ["team-a"]

    quota = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="compute"), spec=client.V1ResourceQuotaSpec(hard={"pods": "2", "requests.cpu": "1"}))
    core.create_namespaced_resource_quota("team-a", quota)
    deadline = time.monotonic() + 5
    while True:
        status = core.read_namespaced_resource_quota_status("compute", "team-a").status
        if status and status.used is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status.hard == {"pods": "2", "requests.cpu": "1"}
    assert status.used["pods"] == "0"

    with pytest.raises(ApiException) as exc:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team-a")))
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as exc:
        core.read_namespace("missing")
    assert exc.value.status == 404
    assert _status(exc.value)["message"] == 'namespaces "missing" not found'

    cm = core.create_namespaced_config_map("team-a", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"}))
    cm.data["a"] = "2"
    core.replace_namespaced_config_map("c", "team-a", cm)
    cm.data["a"] = "3"  # stale resourceVersion now
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("c", "team-a", cm)
    assert exc.value.status == 409 and _status(exc.value)["reason"] == "Conflict"

    # Paging with limit/continue.
    for i in range(5):
        core.create_namespaced_config_map("team-a", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"page-{i}")))
    first = core.list_namespaced_config_map("team-a", limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_config_map("team-a", limit=100, _continue=first.metadata._continue)
    assert len(first.items) + len(rest.items) == 6


def test_core_v1_watch_namespaces(admin_client):
    core = client.CoreV1Api(admin_client)
    rv = core.list_namespace().metadata.resource_version
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="watched")))
    w = watch.Watch()
    events = []
    for event in w.stream(core.list_namespace, resource_version=rv, timeout_seconds=5):
        events.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "watched":
            w.stop()
    assert ("ADDED", "watched") in events


def test_rbac_v1_and_escalation(kubesim, admin_client):
    core = client.CoreV1Api(admin_client)
    rbac = client.RbacAuthorizationV1Api(admin_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team-r")))
    admin_role = rbac.read_cluster_role("admin")
    assert admin_role.aggregation_rule.cluster_role_selectors
    assert any("pods" in (rule.resources or []) for rule in admin_role.rules)

    binding = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="bob-edit"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"),
        subjects=[client.RbacV1Subject(kind="User", name="bob", api_group="rbac.authorization.k8s.io")],
    )
    rbac.create_namespaced_role_binding("team-r", binding)
    assert [b.metadata.name for b in rbac.list_namespaced_role_binding("team-r").items] == ["bob-edit"]

    # Bob (edit) cannot grant admin in his namespace: RBAC escalation check.
    bob_api = api_client_for(kubesim.kubeconfig_for("bob"))
    try:
        grant = client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="bob-admin"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"),
            subjects=[client.RbacV1Subject(kind="User", name="bob", api_group="rbac.authorization.k8s.io")],
        )
        with pytest.raises(ApiException) as exc:
            client.RbacAuthorizationV1Api(bob_api).create_namespaced_role_binding("team-r", grant)
        assert exc.value.status == 403
        # bob can create pods there, not in other namespaces.
        bob_core = client.CoreV1Api(bob_api)
        bob_core.list_namespaced_pod("team-r")
        with pytest.raises(ApiException) as exc:
            bob_core.list_namespaced_pod("default")
        assert _status(exc.value)["message"] == 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"'
    finally:
        bob_api.close()

    # roleRef is immutable.
    binding = rbac.read_namespaced_role_binding("bob-edit", "team-r")
    binding.role_ref.name = "admin"
    with pytest.raises(ApiException) as exc:
        rbac.replace_namespaced_role_binding("bob-edit", "team-r", binding)
    assert exc.value.status == 422


def test_certificates_v1_create_approve_watch_until_signed(kubesim, admin_client):
    certs = client.CertificatesV1Api(admin_client)
    csr_pem, key_pem = make_csr("grace", ["portal-users"])
    body = client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(name="grace"),
        spec=client.V1CertificateSigningRequestSpec(
            request=base64.b64encode(csr_pem).decode(),
            signer_name="kubernetes.io/kube-apiserver-client",
            expiration_seconds=600,
            usages=["client auth"],
        ),
    )
    created = certs.create_certificate_signing_request(body)
    assert created.spec.username == "kubesim-admin"
    rv = created.metadata.resource_version

    csr = certs.read_certificate_signing_request("grace")
    csr.status = client.V1CertificateSigningRequestStatus(conditions=[client.V1CertificateSigningRequestCondition(
        type="Approved", status="True", reason="PortalApproved", message="approved by the portal")])
    certs.replace_certificate_signing_request_approval("grace", csr)

    certificate = None
    w = watch.Watch()
    for event in w.stream(certs.list_certificate_signing_request, field_selector="metadata.name=grace", resource_version=rv, timeout_seconds=10):
        status = event["object"].status
        if status and status.certificate:
            certificate = status.certificate
            w.stop()
    assert certificate, "CSR was not signed"
    # The client model base64-decodes nothing: status.certificate is the base64 of the PEM.
    cert_pem = base64.b64decode(certificate)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "grace"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == 600 + 300

    # The issued certificate authenticates.
    import tempfile

    import yaml

    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert_pem).decode(), "client-key-data": base64.b64encode(key_pem).decode()}
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as fh:
        yaml.safe_dump(config, fh)
    grace = api_client_for(fh.name)
    try:
        review = client.AuthenticationV1Api(grace).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status.user_info.username == "grace"
        assert "portal-users" in review.status.user_info.groups
    finally:
        grace.close()

    # A CSR asking for system:masters is refused (subject restriction admission).
    masters_pem, _ = make_csr("mallory", ["system:masters"])
    body.metadata = client.V1ObjectMeta(name="mallory")
    body.spec.request = base64.b64encode(masters_pem).decode()
    with pytest.raises(ApiException) as exc:
        certs.create_certificate_signing_request(body)
    assert exc.value.status == 403


def test_authorization_v1_reviews(kubesim, admin_client):
    authz = client.AuthorizationV1Api(admin_client)
    allowed = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(verb="create", resource="namespaces"))))
    assert allowed.status.allowed is True

    sar = authz.create_subject_access_review(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user="bob", groups=["dev"], resource_attributes=client.V1ResourceAttributes(verb="list", resource="pods", namespace="default"))))
    assert sar.status.allowed is False

    lsar = authz.create_namespaced_local_subject_access_review("default", client.V1LocalSubjectAccessReview(
        metadata=client.V1ObjectMeta(namespace="default"),
        spec=client.V1SubjectAccessReviewSpec(user="root", groups=["system:masters"],
                                              resource_attributes=client.V1ResourceAttributes(verb="delete", resource="secrets", namespace="default"))))
    assert lsar.status.allowed is True

    bob = api_client_for(kubesim.kubeconfig_for("bob"))
    try:
        review = client.AuthorizationV1Api(bob).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(non_resource_attributes=client.V1NonResourceAttributes(path="/version", verb="get"))))
        assert review.status.allowed is True
        review = client.AuthorizationV1Api(bob).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(verb="get", resource="secrets", namespace="default"))))
        assert review.status.allowed is False
    finally:
        bob.close()


def test_custom_objects_gatekeeper_and_policy_reports(admin_client):
    custom = client.CustomObjectsApi(admin_client)
    constraint = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",
        "metadata": {"name": "must-have-team"},
        "spec": {"enforcementAction": "deny", "parameters": {"labels": ["team"]}},
    }
    created = custom.create_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels", constraint)
    assert created["metadata"]["generation"] == 1
    status = {"status": {"totalViolations": 2, "auditTimestamp": "2024-05-01T00:00:00Z",
                         "violations": [{"kind": "Namespace", "name": "legacy", "message": "missing team", "enforcementAction": "deny"}]}}
    custom.patch_cluster_custom_object_status("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels", "must-have-team", status)
    obj = custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels", "must-have-team")
    assert obj["status"]["totalViolations"] == 2
    assert obj["metadata"]["generation"] == 1  # status writes do not bump generation
    listed = custom.list_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["must-have-team"]

    client.CoreV1Api(admin_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team-p")))
    report = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "r1"},
              "summary": {"pass": 1, "fail": 1}, "results": [{"policy": "p", "result": "fail"}]}
    custom.create_namespaced_custom_object("wgpolicyk8s.io", "v1alpha2", "team-p", "policyreports", report)
    reports = custom.list_namespaced_custom_object("wgpolicyk8s.io", "v1alpha2", "team-p", "policyreports")
    assert reports["items"][0]["summary"] == {"pass": 1, "fail": 1}
    cluster_report = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport", "metadata": {"name": "c1"}, "results": []}
    custom.create_cluster_custom_object("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", cluster_report)
    with pytest.raises(ApiException) as exc:
        custom.get_cluster_custom_object("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "nope")
    assert exc.value.status == 404


def test_dynamic_client_server_side_apply(admin_client):
    dynamic = DynamicClient(admin_client)
    namespaces = dynamic.resources.get(api_version="v1", kind="Namespace")
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "applied", "labels": {"owner": "portal"}}}
    first = namespaces.server_side_apply(body=body, field_manager="kubesim-portal")
    again = namespaces.server_side_apply(body=body, field_manager="kubesim-portal")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion  # no-op re-apply
    body["metadata"]["labels"]["tier"] = "gold"
    changed = namespaces.server_side_apply(body=body, field_manager="kubesim-portal")
    assert changed.metadata.labels.tier == "gold"
    assert int(changed.metadata.resourceVersion) > int(first.metadata.resourceVersion)
    managers = [entry.manager for entry in changed.metadata.managedFields]
    assert "kubesim-portal" in managers

    quotas = dynamic.resources.get(api_version="v1", kind="ResourceQuota")
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "applied"}, "spec": {"hard": {"pods": "3"}}}
    applied = quotas.server_side_apply(body=quota, namespace="applied", field_manager="kubesim-portal")
    assert applied.spec.hard.pods == "3"
    constraints = dynamic.resources.get(api_version="constraints.gatekeeper.sh/v1beta1", kind="K8sAllowedRepos")
    applied = constraints.server_side_apply(body={"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos",
                                                  "metadata": {"name": "repos"}, "spec": {"parameters": {"repos": ["registry.example/"]}}},
                                            field_manager="kubesim-portal")
    assert applied.spec.parameters.repos == ["registry.example/"]


def test_service_account_token_client(kubesim, admin_client, tmp_path):
    core = client.CoreV1Api(admin_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="portal")))
    core.create_namespaced_service_account("portal", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="portal")))
    token = kubesim.service_account_token("portal", "portal")
    sa_api = api_client_for(kubesim.token_kubeconfig(token, tmp_path / "sa.kubeconfig"))
    try:
        review = client.AuthenticationV1Api(sa_api).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status.user_info.username == "system:serviceaccount:portal:portal"
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(sa_api).list_namespace()
        assert exc.value.status == 403
    finally:
        sa_api.close()
    # Deleting the ServiceAccount invalidates its tokens.
    core.delete_namespaced_service_account("portal", "portal")
    sa_api = api_client_for(tmp_path / "sa.kubeconfig")
    try:
        with pytest.raises(ApiException) as exc:
            client.AuthenticationV1Api(sa_api).create_self_subject_review(client.V1SelfSubjectReview())
        assert exc.value.status == 401
    finally:
        sa_api.close()
