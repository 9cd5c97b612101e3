"""RBAC authorizer, default policy and escalation rules (kubesim.rbac)."""

from __future__ import annotations

import pytest

from kubesim import rbac, resources
from kubesim.store import Store
from kubesim.types import Attributes, UserInfo

CLUSTERROLES = resources.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTERROLEBINDINGS = resources.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
ROLES = resources.lookup("rbac.authorization.k8s.io", "v1", "roles")
ROLEBINDINGS = resources.lookup("rbac.authorization.k8s.io", "v1", "rolebindings")

ALICE = UserInfo("alice", ("system:authenticated",))
ADMIN = UserInfo("root", ("system:masters", "system:authenticated"))


@pytest.fixture
def store():
    s = Store()
    for obj in rbac.bootstrap_objects():
        rt = CLUSTERROLES if obj["kind"] == "ClusterRole" else CLUSTERROLEBINDINGS
        s.create(rt, obj)
    return s


@pytest.fixture
def authz(store):
    return rbac.Authorizer(store)


def role(name, ns, rules):
    return {"metadata": {"name": name, "namespace": ns}, "rules": rules}


def binding(name, ns, role_kind, role_name, subjects):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


def user_subject(name):
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def attrs(user=ALICE, verb="get", resource="pods", namespace="team-a", group="", sub="", name="", **kw):
    return Attributes(user=user, verb=verb, api_group=group, api_version="v1", resource=resource, subresource=sub,
                      namespace=namespace, name=name, **kw)


# ----------------------------------------------------------------- bootstrap policy
def test_bootstrap_has_real_default_roles_and_bindings():
    objs = {(o["kind"], o["metadata"]["name"]): o for o in rbac.bootstrap_objects()}
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:certificates.k8s.io:kube-apiserver-client-approver",
                 "system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"):
        assert ("ClusterRole", name) in objs, name
    assert objs[("ClusterRoleBinding", "cluster-admin")]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    for name in ("system:basic-user", "system:discovery", "system:public-info-viewer"):
        groups = [s["name"] for s in objs[("ClusterRoleBinding", name)]["subjects"]]
        assert "system:authenticated" in groups
    approver = objs[("ClusterRole", "system:certificates.k8s.io:kube-apiserver-client-approver")]
    assert approver["rules"] == [{"apiGroups": ["certificates.k8s.io"], "resourceNames": ["kubernetes.io/kube-apiserver-client"],
                                  "resources": ["signers"], "verbs": ["approve"]}]


def test_aggregated_roles_keep_aggregation_rule_and_get_rules_filled():
    objs = {o["metadata"]["name"]: o for o in rbac.bootstrap_objects() if o["kind"] == "ClusterRole"}
    view, edit, admin = objs["view"], objs["edit"], objs["admin"]
    assert view["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    assert view["rules"] == objs["system:aggregate-to-view"]["rules"]
    # edit = aggregate-to-edit then view (sorted by name), admin = edit then aggregate-to-admin
    assert edit["rules"] == objs["system:aggregate-to-edit"]["rules"] + view["rules"]
    assert admin["rules"][: len(edit["rules"])] == edit["rules"]
    assert admin["rules"][len(edit["rules"]):] == objs["system:aggregate-to-admin"]["rules"]


# ----------------------------------------------------------------- authorize
def test_system_masters_always_allowed(authz):
    assert authz.authorize(attrs(user=ADMIN, verb="delete", resource="nodes", namespace=""))[0]


def test_user_without_bindings_is_denied_with_real_message(authz):
    allowed, reason = authz.authorize(attrs(verb="list"))
    assert not allowed and reason == ""
    err = authz.forbidden(attrs(verb="list"))
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == ('pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
                           'in the namespace "team-a"')
    assert err.status()["details"] == {"kind": "pods"}


def test_forbidden_message_cluster_scoped_named_and_subresource(authz):
    err = authz.forbidden(attrs(verb="get", resource="namespaces", namespace="", name="kube-system"))
    assert err.message == ('namespaces "kube-system" is forbidden: User "alice" cannot get resource "namespaces" '
                           'in API group "" at the cluster scope')
    err = authz.forbidden(attrs(verb="update", resource="certificatesigningrequests", group="certificates.k8s.io",
                                sub="approval", namespace="", name="csr1"))
    assert err.message == ('certificatesigningrequests.certificates.k8s.io "csr1" is forbidden: User "alice" cannot '
                           'update resource "certificatesigningrequests/approval" in API group "certificates.k8s.io" '
                           'at the cluster scope')


def test_non_resource_url_forbidden_message(authz):
    a = Attributes(user=UserInfo("bob", ()), verb="get", resource_request=False, path="/metrics")
    err = authz.forbidden(a)
    assert err.message == 'forbidden: User "bob" cannot get path "/metrics"'


def test_authenticated_users_get_discovery_and_basic_user(authz):
    assert authz.allowed(Attributes(user=ALICE, verb="get", resource_request=False, path="/apis/apps/v1"))
    assert authz.allowed(Attributes(user=ALICE, verb="get", resource_request=False, path="/version"))
    assert not authz.allowed(Attributes(user=ALICE, verb="get", resource_request=False, path="/metrics"))
    assert authz.allowed(attrs(verb="create", resource="selfsubjectaccessreviews", group="authorization.k8s.io", namespace=""))
    # the group is what grants it: an identity without system:authenticated gets nothing
    assert not authz.allowed(attrs(user=UserInfo("x", ()), verb="create", resource="selfsubjectaccessreviews",
                                   group="authorization.k8s.io", namespace=""))


def test_rolebinding_to_clusterrole_is_namespace_limited(store, authz):
    store.create(ROLEBINDINGS, binding("alice-view", "team-a", "ClusterRole", "view", [user_subject("alice")]))
    assert authz.allowed(attrs(verb="list"))
    assert authz.allowed(attrs(verb="get", resource="pods", sub="log"))
    assert not authz.allowed(attrs(verb="list", namespace="team-b"))
    assert not authz.allowed(attrs(verb="delete"))
    assert not authz.allowed(attrs(verb="get", resource="secrets"))  # view does not read secrets
    assert not authz.allowed(attrs(verb="get", resource="pods", sub="exec"))


def test_edit_and_admin_through_aggregation(store, authz):
    store.create(ROLEBINDINGS, binding("a", "team-a", "ClusterRole", "admin", [user_subject("alice")]))
    assert authz.allowed(attrs(verb="create", resource="rolebindings", group="rbac.authorization.k8s.io"))
    assert authz.allowed(attrs(verb="delete", resource="deployments", group="apps"))
    assert authz.allowed(attrs(verb="list", resource="resourcequotas"))
    assert not authz.allowed(attrs(verb="create", resource="resourcequotas"))


def test_group_and_serviceaccount_subjects(store, authz):
    store.create(ROLES, role("cm", "team-a", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]))
    store.create(ROLEBINDINGS, binding("g", "team-a", "Role", "cm", [{"kind": "Group", "name": "devs"}]))
    store.create(ROLEBINDINGS, binding("sa", "team-a", "Role", "cm", [{"kind": "ServiceAccount", "name": "deployer"}]))
    dev = UserInfo("dana", ("devs",))
    assert authz.allowed(attrs(user=dev, verb="patch", resource="configmaps"))
    sa = UserInfo("system:serviceaccount:team-a:deployer", ("system:serviceaccounts",))
    assert authz.allowed(attrs(user=sa, verb="create", resource="configmaps"))
    other_sa = UserInfo("system:serviceaccount:team-b:deployer", ())
    assert not authz.allowed(attrs(user=other_sa, verb="create", resource="configmaps"))


def test_resource_names_and_star_subresource(store, authz):
    store.create(CLUSTERROLES, {"metadata": {"name": "one-cm"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "update"]},
        {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["update"]},
    ]})
    store.create(CLUSTERROLEBINDINGS, binding("one-cm", "", "ClusterRole", "one-cm", [user_subject("alice")]))
    assert authz.allowed(attrs(verb="get", resource="configmaps", name="settings"))
    assert not authz.allowed(attrs(verb="get", resource="configmaps", name="other"))
    assert not authz.allowed(attrs(verb="list", resource="configmaps"))  # resourceNames never match a list
    assert authz.allowed(attrs(verb="update", resource="resourcequotas", sub="status", name="q"))
    assert not authz.allowed(attrs(verb="update", resource="resourcequotas", name="q"))


def test_non_resource_url_trailing_star(store, authz):
    store.create(CLUSTERROLES, {"metadata": {"name": "logs"}, "rules": [{"nonResourceURLs": ["/logs/*"], "verbs": ["get"]}]})
    store.create(CLUSTERROLEBINDINGS, binding("logs", "", "ClusterRole", "logs", [user_subject("alice")]))
    assert authz.allowed(Attributes(user=ALICE, verb="get", resource_request=False, path="/logs/kube.log"))
    assert not authz.allowed(Attributes(user=ALICE, verb="post", resource_request=False, path="/logs/kube.log"))
    assert not authz.allowed(Attributes(user=ALICE, verb="get", resource_request=False, path="/log"))


def test_binding_to_missing_role_reports_resolution_error(store, authz):
    store.create(ROLEBINDINGS, binding("dangling", "team-a", "ClusterRole", "nope", [user_subject("alice")]))
    allowed, reason = authz.authorize(attrs(verb="list"))
    assert not allowed
    assert reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'
    assert authz.forbidden(attrs(verb="list")).message.endswith(
        'in the namespace "team-a": RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found')


def test_rules_for_includes_cluster_and_namespace_rules(store, authz):
    store.create(ROLEBINDINGS, binding("v", "team-a", "ClusterRole", "view", [user_subject("alice")]))
    in_ns = authz.rules_for(ALICE, "team-a")
    outside = authz.rules_for(ALICE, "team-b")
    assert len(in_ns) > len(outside)
    assert {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"]} in outside


# ----------------------------------------------------------------- escalation helpers
def test_covers_and_missing_message(store, authz):
    store.create(ROLEBINDINGS, binding("v", "team-a", "ClusterRole", "view", [user_subject("alice")]))
    wanted = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete", "create"]},
              {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"], "verbs": ["get"]}]
    msg = rbac.confirm_no_escalation(authz, ALICE, "team-a", wanted)
    assert msg == ('user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
                   'held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}\n'
                   '{APIGroups:[""], Resources:["secrets"], ResourceNames:["s1"], Verbs:["get"]}')
    assert rbac.confirm_no_escalation(authz, ALICE, "team-a", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]) is None


def test_subresource_wildcard_covers():
    owner = [{"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}]
    assert rbac.covers(owner, [{"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]}])[0]
    assert not rbac.covers(owner, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])[0]


def test_selector_matches_expressions():
    sel = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                {"key": "skip", "operator": "DoesNotExist"}]}
    assert rbac.selector_matches(sel, {"tier": "a"})
    assert not rbac.selector_matches(sel, {"tier": "c"})
    assert not rbac.selector_matches(sel, {"tier": "a", "skip": "1"})
