"""Admission plugins (kubesim.admission): each rule's allowed and refused paths, with the real messages."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesim import errors, rbac, resources
from kubesim.admission import Admission
from kubesim.admission.plugin import pop_warnings
from kubesim.controllers import Controllers
from kubesim.store import Store
from kubesim.types import UserInfo

R = resources.lookup
NS = R("", "v1", "namespaces")
PODS = R("", "v1", "pods")
CMS = R("", "v1", "configmaps")
RQ = R("", "v1", "resourcequotas")
LR = R("", "v1", "limitranges")
PVCS = R("", "v1", "persistentvolumeclaims")
DEPLOY = R("apps", "v1", "deployments")
CSRS = R("certificates.k8s.io", "v1", "certificatesigningrequests")
ROLES = R("rbac.authorization.k8s.io", "v1", "roles")
ROLEBINDINGS = R("rbac.authorization.k8s.io", "v1", "rolebindings")
CLUSTERROLES = R("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTERROLEBINDINGS = R("rbac.authorization.k8s.io", "v1", "clusterrolebindings")

ROOT = UserInfo("root", ("system:masters", "system:authenticated"))
ALICE = UserInfo("alice", ("system:authenticated",))


class FakeCA:
    """Controllers need a CA only for CSRs; these tests never sign."""

    def sign_csr(self, *a):  # pragma: no cover - not reached
        raise AssertionError("not expected")


@pytest.fixture
def store():
    s = Store()
    for obj in rbac.bootstrap_objects():
        s.create(CLUSTERROLES if obj["kind"] == "ClusterRole" else CLUSTERROLEBINDINGS, obj)
    s.add_listener(Controllers(s, FakeCA()).on_change)
    s.create(NS, {"metadata": {"name": "team-a"}})
    return s


@pytest.fixture
def authz(store):
    return rbac.Authorizer(store)


@pytest.fixture
def admit(store, authz):
    a = Admission(store, authz)

    def run(op, rt, obj, old=None, user=ROOT, sub=""):
        return a.admit(op, rt, obj, old, user, sub)

    return run


def pod(name="p", ns="team-a", containers=None, **spec):
    containers = containers or [{"name": "c", "image": "nginx"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": containers, **spec}}


def container(name="c", requests=None, limits=None, **extra):
    c = {"name": name, "image": "nginx", **extra}
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    if res:
        c["resources"] = res
    return c


def refused(fn, *args, **kw) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as exc:
        fn(*args, **kw)
    return exc.value


# ------------------------------------------------------------------ NamespaceLifecycle
def test_create_in_missing_namespace_is_404(admit):
    err = refused(admit, "CREATE", CMS, {"metadata": {"name": "x", "namespace": "nope"}})
    assert (err.code, err.message) == (404, 'namespaces "nope" not found')


def test_create_in_terminating_namespace_is_403(admit, store):
    store.create(CMS, {"metadata": {"name": "held", "namespace": "team-a", "finalizers": ["example.com/hold"]}})
    store.mark_terminating(NS, "team-a")  # the held configmap keeps it Terminating
    err = refused(admit, "CREATE", CMS, {"metadata": {"name": "x", "namespace": "team-a"}})
    assert err.code == 403
    assert err.message == ('configmaps "x" is forbidden: unable to create new content in namespace team-a '
                           'because it is being terminated')
    assert err.details["causes"] == [{"reason": "NamespaceTerminating", "message": "namespace team-a is being terminated",
                                      "field": "metadata.namespace"}]
    # updates and deletes are still allowed
    admit("UPDATE", CMS, {"metadata": {"name": "held", "namespace": "team-a"}}, {"metadata": {"name": "held"}})
    admit("DELETE", CMS, None, {"metadata": {"name": "held", "namespace": "team-a"}})


def test_immortal_namespaces_cannot_be_deleted(admit):
    err = refused(admit, "DELETE", NS, None, {"metadata": {"name": "kube-system"}})
    assert (err.code, err.message) == (403, 'namespaces "kube-system" is forbidden: this namespace may not be deleted')
    admit("DELETE", NS, None, {"metadata": {"name": "team-a"}})


def test_access_reviews_skip_namespace_check(admit):
    lsar = R("authorization.k8s.io", "v1", "localsubjectaccessreviews")
    admit("CREATE", lsar, {"metadata": {"namespace": "nope"}, "spec": {}})


# ------------------------------------------------------------------ LimitRanger
def test_limit_range_defaults_and_annotation(admit, store):
    store.create(LR, {"metadata": {"name": "lr", "namespace": "team-a"}, "spec": {"limits": [{
        "type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"}}]}})
    out = admit("CREATE", PODS, pod(containers=[container("app", requests={"memory": "64Mi"})]))
    res = out["spec"]["containers"][0]["resources"]
    assert res == {"requests": {"memory": "64Mi", "cpu": "100m"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    assert out["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu request for container app; cpu, memory limit for container app")


def test_limit_range_default_request_falls_back_to_default(admit, store):
    store.create(LR, {"metadata": {"name": "lr", "namespace": "team-a"}, "spec": {"limits": [{
        "type": "Container", "default": {"cpu": "1"}}]}})
    out = admit("CREATE", PODS, pod())
    assert out["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


def test_limit_range_max(admit, store):
    store.create(LR, {"metadata": {"name": "lr", "namespace": "team-a"}, "spec": {"limits": [{
        "type": "Container", "max": {"cpu": "1"}}]}})
    err = refused(admit, "CREATE", PODS, pod(containers=[container(limits={"cpu": "2"})]))
    assert err.message == 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    admit("CREATE", PODS, pod(containers=[container(limits={"cpu": "500m"})]))


# ------------------------------------------------------------------ ResourceQuota
def quota(store, hard, name="q"):
    store.create(RQ, {"metadata": {"name": name, "namespace": "team-a"}, "spec": {"hard": hard}})


def test_quota_must_specify(admit, store):
    quota(store, {"limits.cpu": "2", "requests.memory": "1Gi"})
    err = refused(admit, "CREATE", PODS, pod(containers=[container("a", requests={"cpu": "1"}), container("b")]))
    assert err.code == 403
    assert err.message == ('pods "p" is forbidden: failed quota: q: must specify limits.cpu for: a,b; '
                           'requests.memory for: a,b')


def test_quota_exceeded_message(admit, store):
    quota(store, {"limits.cpu": "2", "pods": "10"})
    store.create(PODS, pod("existing", containers=[container(limits={"cpu": "1500m"})]))
    err = refused(admit, "CREATE", PODS, pod(containers=[container(limits={"cpu": "1"})]))
    assert err.message == ('pods "p" is forbidden: exceeded quota: q, requested: limits.cpu=1, '
                           'used: limits.cpu=1500m, limited: limits.cpu=2')
    admit("CREATE", PODS, pod(containers=[container(limits={"cpu": "500m"})]))


def test_quota_pod_count_ignores_terminal_pods(admit, store):
    quota(store, {"pods": "1"})
    done = pod("done")
    done["status"] = {"phase": "Succeeded"}
    store.create(PODS, done)
    admit("CREATE", PODS, pod())
    store.create(PODS, pod("running"))
    err = refused(admit, "CREATE", PODS, pod("third"))
    assert err.message == 'pods "third" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1'


def test_quota_object_counts(admit, store):
    quota(store, {"configmaps": "1", "count/deployments.apps": "0"})
    admit("CREATE", CMS, {"metadata": {"name": "a", "namespace": "team-a"}})
    store.create(CMS, {"metadata": {"name": "a", "namespace": "team-a"}})
    err = refused(admit, "CREATE", CMS, {"metadata": {"name": "b", "namespace": "team-a"}})
    assert err.message == ('configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, '
                           'used: configmaps=1, limited: configmaps=1')
    err = refused(admit, "CREATE", DEPLOY, {"metadata": {"name": "d", "namespace": "team-a"}, "spec": {}})
    assert err.message.startswith('deployments.apps "d" is forbidden: exceeded quota: q, requested: count/deployments.apps=1')


def test_quota_storage_quantities_compare_as_quantities(admit, store):
    quota(store, {"requests.storage": "1Gi"})
    pvc = {"metadata": {"name": "v", "namespace": "team-a"}, "spec": {"resources": {"requests": {"storage": "512Mi"}}}}
    store.create(PVCS, pvc)
    admit("CREATE", PVCS, {**pvc, "metadata": {"name": "w", "namespace": "team-a"}})
    big = {"metadata": {"name": "x", "namespace": "team-a"}, "spec": {"resources": {"requests": {"storage": "600Mi"}}}}
    err = refused(admit, "CREATE", PVCS, big)
    assert err.message == ('persistentvolumeclaims "x" is forbidden: exceeded quota: q, requested: requests.storage=600Mi, '
                           'used: requests.storage=512Mi, limited: requests.storage=1Gi')


def test_limits_only_pod_gets_requests_defaulted_for_quota(admit, store):
    quota(store, {"requests.cpu": "1"})
    out = admit("CREATE", PODS, pod(containers=[container(limits={"cpu": "500m"})]))
    assert out["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m"}


# ------------------------------------------------------------------ PodSecurity
def label_ns(store, **labels):
    ns = store.get(NS, None, "team-a")
    ns["metadata"]["labels"] = {f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()}
    store.update(NS, ns)


def test_restricted_rejects_default_pod_with_real_message(admit, store):
    label_ns(store, enforce="restricted")
    err = refused(admit, "CREATE", PODS, pod())
    assert err.code == 403
    assert err.message == (
        'pods "p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" '
        'must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')


def test_restricted_accepts_compliant_pod(admit, store):
    label_ns(store, enforce="restricted")
    c = container(securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})
    admit("CREATE", PODS, pod(containers=[c], securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}))


def test_restricted_capability_add(admit, store):
    label_ns(store, enforce="restricted")
    c = container(securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["SYS_TIME"]}})
    err = refused(admit, "CREATE", PODS, pod(containers=[c], securityContext={"runAsNonRoot": True,
                                                                               "seccompProfile": {"type": "RuntimeDefault"}}))
    assert err.message.endswith('unrestricted capabilities (container "c" must not include "SYS_TIME" in '
                                'securityContext.capabilities.add)')


def test_baseline_checks(admit, store):
    label_ns(store, enforce="baseline")
    admit("CREATE", PODS, pod())  # a plain pod is baseline
    bad = pod(containers=[container(securityContext={"privileged": True, "capabilities": {"add": ["SYS_ADMIN", "CHOWN"]}},
                                    ports=[{"containerPort": 80, "hostPort": 8080}])],
              hostNetwork=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    err = refused(admit, "CREATE", PODS, bad)
    assert err.message == (
        'pods "p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork), '
        'hostPort (container "c" uses hostPort 8080), privileged (container "c" must not set securityContext.privileged=true), '
        'non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add), '
        'hostPath volumes (volume "root")')


def test_privileged_level_and_unlabelled_namespace_allow_everything(admit, store):
    bad = pod(containers=[container(securityContext={"privileged": True})])
    admit("CREATE", PODS, bad)
    label_ns(store, enforce="privileged")
    admit("CREATE", PODS, bad)


def test_deployment_template_only_warns(admit, store):
    label_ns(store, enforce="restricted", warn="restricted")
    pop_warnings()
    dep = {"metadata": {"name": "d", "namespace": "team-a"},
           "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    admit("CREATE", DEPLOY, dep)
    warnings = pop_warnings()
    assert len(warnings) == 1 and warnings[0].startswith('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation')


def test_invalid_pod_security_label_is_422(admit):
    err = refused(admit, "CREATE", NS, {"metadata": {"name": "x", "labels": {"pod-security.kubernetes.io/enforce": "strict"}}})
    assert err.code == 422 and err.reason == "Invalid"


# ------------------------------------------------------------------ CSRs
def make_csr(cn="jane", orgs=("devs",)):
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def csr_obj(request=None, usages=("client auth",), signer="kubernetes.io/kube-apiserver-client", **spec):
    return {"metadata": {"name": "jane"}, "spec": {"request": request or make_csr(), "signerName": signer,
                                                   "usages": list(usages), **spec}}


def test_valid_csr_records_requester(admit):
    out = admit("CREATE", CSRS, csr_obj(expirationSeconds=600), user=ALICE)
    assert out["spec"]["username"] == "alice" and out["spec"]["groups"] == ["system:authenticated"]


def test_csr_request_not_pem_is_422(admit):
    err = refused(admit, "CREATE", CSRS, csr_obj(request=base64.b64encode(b"hello").decode()))
    assert err.code == 422
    assert err.message == ('CertificateSigningRequest.certificates.k8s.io "jane" is invalid: spec.request: Invalid value: '
                           '[]byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must be CERTIFICATE REQUEST')
    assert err.details["causes"][0]["field"] == "spec.request"


def test_csr_field_errors(admit):
    err = refused(admit, "CREATE", CSRS, csr_obj(usages=["client auth", "bogus", "client auth"], signer="", expirationSeconds=60))
    fields = [(c["reason"], c["field"]) for c in err.details["causes"]]
    assert fields == [("FieldValueNotSupported", "spec.usages[1]"), ("FieldValueDuplicate", "spec.usages[2]"),
                      ("FieldValueRequired", "spec.signerName"), ("FieldValueInvalid", "spec.expirationSeconds")]
    assert err.details["causes"][3]["message"] == "Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"


def test_csr_with_system_masters_is_refused(admit):
    err = refused(admit, "CREATE", CSRS, csr_obj(request=make_csr(orgs=("system:masters",))))
    assert err.message == ('certificatesigningrequests.certificates.k8s.io "jane" is forbidden: use of '
                           'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')
    admit("CREATE", CSRS, csr_obj(request=make_csr(orgs=("system:masters",)), signer="example.com/other"))


def test_csr_approval_needs_approve_on_signer(admit, store):
    approved = csr_obj()
    approved["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    err = refused(admit, "UPDATE", CSRS, approved, approved, user=ALICE, sub="approval")
    assert err.message == ('certificatesigningrequests.certificates.k8s.io "jane" is forbidden: user not permitted to '
                           'approve requests with signerName "kubernetes.io/kube-apiserver-client"')
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "approver"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
        "name": "system:certificates.k8s.io:kube-apiserver-client-approver"}, "subjects": [{"kind": "User", "name": "alice"}]})
    admit("UPDATE", CSRS, approved, approved, user=ALICE, sub="approval")


def test_csr_approval_domain_wildcard(admit, store):
    store.create(CLUSTERROLES, {"metadata": {"name": "all-k8s"}, "rules": [
        {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "resourceNames": ["kubernetes.io/*"], "verbs": ["approve"]}]})
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "all-k8s"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "all-k8s"}, "subjects": [{"kind": "User", "name": "alice"}]})
    admit("UPDATE", CSRS, csr_obj(), csr_obj(), user=ALICE, sub="approval")


# ------------------------------------------------------------------ RBAC escalation
def grant(store, role_name, user="alice", ns="team-a"):
    store.create(ROLEBINDINGS, {"metadata": {"name": f"{user}-{role_name}", "namespace": ns}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "User", "name": user}]})


def test_binding_to_admin_without_holding_it_is_refused(admit, store):
    grant(store, "edit")  # edit cannot create rolebindings at all, but admission runs regardless of authz
    rb = {"metadata": {"name": "bob-admin", "namespace": "team-a"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}, "subjects": [{"kind": "User", "name": "bob"}]}
    err = refused(admit, "CREATE", ROLEBINDINGS, rb, user=ALICE)
    assert err.code == 403
    assert err.message.startswith('rolebindings.rbac.authorization.k8s.io "bob-admin" is forbidden: user "alice" '
                                  '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n')
    assert '{APIGroups:["rbac.authorization.k8s.io"], Resources:["rolebindings"], Verbs:' in err.message


def test_binding_allowed_when_holding_permissions_or_bind(admit, store):
    grant(store, "admin")
    rb = {"metadata": {"name": "bob-edit", "namespace": "team-a"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "User", "name": "bob"}]}
    admit("CREATE", ROLEBINDINGS, rb, user=ALICE)
    # cluster-admin is not held, but an explicit bind grant suffices
    store.create(ROLES, {"metadata": {"name": "binder", "namespace": "team-a"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["cluster-admin"], "verbs": ["bind"]}]})
    store.create(ROLEBINDINGS, {"metadata": {"name": "binder", "namespace": "team-a"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "binder"}, "subjects": [{"kind": "User", "name": "alice"}]})
    rb2 = {**rb, "metadata": {"name": "bob-ca", "namespace": "team-a"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}}
    admit("CREATE", ROLEBINDINGS, rb2, user=ALICE)
    # ... but only in that namespace
    store.create(NS, {"metadata": {"name": "team-b"}})
    err = refused(admit, "CREATE", ROLEBINDINGS, {**rb2, "metadata": {"name": "bob-ca", "namespace": "team-b"}}, user=ALICE)
    assert err.code == 403


def test_binding_to_missing_role(admit):
    rb = {"metadata": {"name": "x", "namespace": "team-a"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ghost"}, "subjects": []}
    err = refused(admit, "CREATE", ROLEBINDINGS, rb, user=ALICE)
    assert err.message == 'rolebindings.rbac.authorization.k8s.io "x" is forbidden: role.rbac.authorization.k8s.io "ghost" not found'


def test_role_escalation_and_escalate_verb(admit, store):
    grant(store, "view")
    role = {"metadata": {"name": "r", "namespace": "team-a"}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    err = refused(admit, "CREATE", ROLES, role, user=ALICE)
    assert err.message == ('roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=["system:authenticated"]) '
                           'is attempting to grant RBAC permissions not currently held:\n'
                           '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
    admit("CREATE", ROLES, {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}, user=ALICE)
    store.create(ROLES, {"metadata": {"name": "esc", "namespace": "team-a"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}]})
    store.create(ROLEBINDINGS, {"metadata": {"name": "esc", "namespace": "team-a"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "esc"}, "subjects": [{"kind": "User", "name": "alice"}]})
    admit("CREATE", ROLES, role, user=ALICE)


def test_aggregated_clusterrole_needs_cluster_admin(admit):
    cr = {"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}
    err = refused(admit, "CREATE", CLUSTERROLES, cr, user=ALICE)
    assert err.message == ('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges '
                           'to use the aggregationRule')
    admit("CREATE", CLUSTERROLES, cr, user=ROOT)


def test_approval_fills_condition_timestamps_and_rejects_approved_and_denied(admit):
    old = csr_obj()
    new = csr_obj()
    new["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "R", "lastTransitionTime": None}]}
    out = admit("UPDATE", CSRS, new, old, sub="approval")
    cond = out["status"]["conditions"][0]
    assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
    both = csr_obj()
    both["status"] = {"conditions": [{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]}
    err = refused(admit, "UPDATE", CSRS, both, old, sub="approval")
    assert err.code == 422 and err.details["causes"][-1]["field"] == "status.conditions"
