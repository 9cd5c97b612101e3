"""The namespace bundle: exact objects, clamping, ordering, hashing, validity for the real API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import kubernetes_validate
import pytest
import yaml

from apps.accounts.models import User
from apps.approvals.services import request_approve
from apps.namespaces import manifests
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import bundle_for_namespace, bundle_for_request
from apps.namespaces.services import namespace_request_submit
from apps.teams.models import Membership, Team

BOOK_QUOTA = {"requests.cpu": "10", "limits.cpu": "10", "requests.memory": "100Gi", "limits.memory": "100Gi"}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


ROW_UID = "3f0e6a2c-5b1d-4c9e-8f7a-2d4b6c8e0a13"


def unsaved_namespace(**overrides) -> Namespace:
    team = overrides.pop("team", None) or Team(slug="payments", name="Payments", contact="#payments")
    values = dict(uid=ROW_UID, name="payments-dev", team=team, purpose="checkout service", owner=User(id=7, username="alice"),
                  quota=dict(BOOK_QUOTA), pod_security_level="restricted",
                  expires_at=datetime(2031, 3, 4, 14, 30, 15, tzinfo=timezone(timedelta(hours=2))))
    values.update(overrides)
    return Namespace(**values)


def people():
    return [
        Membership(user=User(username="bob"), role="manager"),
        Membership(user=User(username="alice"), role="member"),
        Membership(user=User(username="victor"), role="viewer"),
    ]


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_bundle_is_namespace_quota_limits_policies_then_sorted_bindings():
    objects = manifests.render_bundle(unsaved_namespace(), people(), request_id=12)

    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "payments-dev"),
        ("ResourceQuota", "team-quota"),
        ("LimitRange", "container-defaults"),
        ("NetworkPolicy", "default-deny-ingress"),
        ("NetworkPolicy", "allow-same-namespace"),
        ("RoleBinding", "portal-alice-edit"),
        ("RoleBinding", "portal-bob-admin"),
        ("RoleBinding", "portal-victor-view"),
    ]
    assert all(o["metadata"]["namespace"] == "payments-dev" for o in objects[1:])


def test_namespace_object_carries_portal_labels_psa_labels_and_annotations():
    namespace = manifests.render_bundle(unsaved_namespace(), [], request_id=12)[0]

    assert namespace == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "payments-dev",
            "labels": {
                "app.kubernetes.io/managed-by": "platform-portal",
                "networking/namespace": "payments-dev",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/audit-version": "latest",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/warn-version": "latest",
                "portal.platform.io/team": "payments",
            },
            "annotations": {
                # the ownership mark: this row's id (with the managed-by label)
                "portal.platform.io/namespace-id": ROW_UID,
                "portal.platform.io/contact": "#payments",
                # RFC 3339 in UTC: 14:30:15+02:00 is 12:30:15Z.
                "portal.platform.io/expires-at": "2031-03-04T12:30:15Z",
                "portal.platform.io/owner": "alice",
                "portal.platform.io/purpose": "checkout service",
                "portal.platform.io/request": "12",
            },
        },
    }


def test_baseline_exception_sets_all_three_psa_modes():
    labels = manifests.render_bundle(unsaved_namespace(pod_security_level="baseline"), [])[0]["metadata"]["labels"]

    assert {k: v for k, v in labels.items() if k.startswith("pod-security") and not k.endswith("-version")} == {
        "pod-security.kubernetes.io/audit": "baseline",
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
    }


def test_no_ttl_no_purpose_no_request_means_no_such_annotations():
    ns = unsaved_namespace(expires_at=None, purpose="", team=Team(slug="payments", contact=""))
    metadata = manifests.render_bundle(ns, [])[0]["metadata"]

    assert metadata["annotations"] == {"portal.platform.io/namespace-id": ROW_UID, "portal.platform.io/owner": "alice"}


def test_one_rolebinding_per_member_with_role_mapping_and_user_subject():
    bindings = by_kind(manifests.render_bundle(unsaved_namespace(), people()), "RoleBinding")

    assert [(b["roleRef"]["name"], b["subjects"]) for b in bindings] == [
        ("edit", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "portal:alice"}]),
        ("admin", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "portal:bob"}]),
        ("view", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "portal:victor"}]),
    ]
    assert all(b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": b["roleRef"]["name"]} for b in bindings)
    assert all(b["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "platform-portal", "portal.platform.io/team": "payments"}
               for b in bindings)


def test_inactive_users_get_no_binding():
    gone = Membership(user=User(username="eve", is_active=False), role="member")

    bindings = by_kind(manifests.render_bundle(unsaved_namespace(), [*people(), gone]), "RoleBinding")

    assert "portal-eve-edit" not in [b["metadata"]["name"] for b in bindings]
    assert len(bindings) == 3


@pytest.mark.parametrize("username", ["alice", "Bob.Smith@example.com", "x" * 150, "a_b", "-lead-"])
def test_rolebinding_names_are_valid_dns_subdomains(username):
    name = manifests.role_binding_name(username, "admin")

    assert DNS1123_SUBDOMAIN.match(name) and len(name) <= 63, name


def test_rolebinding_names_never_collide_for_users_that_slug_alike():
    names = {manifests.role_binding_name(u, "edit") for u in ("a.b", "a-b", "A-B", "a_b")}

    assert len(names) == 4


def test_role_change_renames_the_binding_because_roleref_is_immutable():
    assert manifests.role_binding_name("alice", "edit") != manifests.role_binding_name("alice", "admin")


def test_quota_is_team_quota_with_the_approved_hard_values():
    quota = by_kind(manifests.render_bundle(unsaved_namespace(quota={"pods": "20", "requests.cpu": "500m"}), []), "ResourceQuota")[0]

    assert quota["spec"] == {"hard": {"pods": "20", "requests.cpu": "500m"}}


def test_limitrange_uses_the_book_defaults_when_the_quota_is_large():
    limit_range = by_kind(manifests.render_bundle(unsaved_namespace(), []), "LimitRange")[0]

    assert limit_range["spec"] == {"limits": [{
        "type": "Container",
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
    }]}


@pytest.mark.parametrize(("quota", "default", "default_request"), [
    # limits below the book's defaults: defaults shrink to the limits.
    ({"limits.cpu": "200m", "limits.memory": "300Mi"}, {"cpu": "200m", "memory": "300Mi"}, {"cpu": "100m", "memory": "256Mi"}),
    # requests below the defaults: defaultRequest shrinks to them.
    ({"requests.cpu": "50m", "requests.memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}, {"cpu": "50m", "memory": "128Mi"}),
    # a limit below the default request: the request must not exceed the limit.
    ({"limits.memory": "100Mi", "limits.cpu": "50m"}, {"cpu": "50m", "memory": "100Mi"}, {"cpu": "50m", "memory": "100Mi"}),
    # compared as quantities, not strings ("1G" < "512Mi" is false as numbers).
    ({"limits.memory": "1G"}, {"cpu": "500m", "memory": "512Mi"}, {"cpu": "100m", "memory": "256Mi"}),
    ({"limits.cpu": "0.25"}, {"cpu": "250m", "memory": "512Mi"}, {"cpu": "100m", "memory": "256Mi"}),
])
def test_limitrange_defaults_are_clamped_into_the_quota(quota, default, default_request):
    assert manifests.container_defaults(quota) == (default, default_request)


def test_network_policies_deny_ingress_and_allow_the_same_namespace():
    policies = by_kind(manifests.render_bundle(unsaved_namespace(), []), "NetworkPolicy")

    assert [p["spec"] for p in policies] == [
        {"podSelector": {}, "policyTypes": ["Ingress"]},
        {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
    ]


@pytest.mark.parametrize("version", ["1.32.0", kubernetes_validate.latest_version()])
@pytest.mark.parametrize("level", ["restricted", "baseline", "privileged"])
def test_every_object_is_valid_for_the_real_api_in_strict_mode(version, level):
    quota = {**BOOK_QUOTA, "requests.storage": "100Gi", "persistentvolumeclaims": "10", "pods": "50", "services": "5"}
    objects = manifests.render_bundle(unsaved_namespace(pod_security_level=level, quota=quota), people(), request_id=1)

    for obj in objects:
        # Raises ValidationError (unknown field, wrong type, missing required field).
        kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_would_catch_a_wrong_field():
    broken = manifests.render_bundle(unsaved_namespace(), [])[3]
    broken["spec"]["policyType"] = ["Ingress"]  # typo for policyTypes

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.32.0", strict=True)


def test_hash_is_stable_and_independent_of_membership_order():
    first = manifests.render_bundle(unsaved_namespace(), people())
    second = manifests.render_bundle(unsaved_namespace(), list(reversed(people())))

    assert manifests.bundle_hash(first) == manifests.bundle_hash(second)
    assert re.fullmatch(r"[0-9a-f]{64}", manifests.bundle_hash(first))


@pytest.mark.parametrize("change", [
    {"quota": {**BOOK_QUOTA, "limits.cpu": "12"}},
    {"pod_security_level": "baseline"},
    {"purpose": "something else"},
    {"expires_at": None},
])
def test_hash_changes_when_the_desired_state_changes(change):
    base = manifests.bundle_hash(manifests.render_bundle(unsaved_namespace(), people()))

    assert manifests.bundle_hash(manifests.render_bundle(unsaved_namespace(**change), people())) != base


def test_hash_changes_when_a_member_leaves():
    base = manifests.bundle_hash(manifests.render_bundle(unsaved_namespace(), people()))

    assert manifests.bundle_hash(manifests.render_bundle(unsaved_namespace(), people()[:2])) != base


def test_yaml_stream_round_trips_to_the_same_objects():
    objects = manifests.render_bundle(unsaved_namespace(), people(), request_id=3)

    text = manifests.to_yaml(objects)

    assert text.startswith("---\napiVersion: v1\nkind: Namespace\n")
    assert list(yaml.safe_load_all(text)) == objects


# --- Selectors (database) ----------------------------------------------------------------


@pytest.fixture
def stub_cluster(db):
    from apps.clusters.models import Cluster

    cluster = Cluster(name="prod", api_server_url="https://127.0.0.1:6443", ca_bundle="", auth_kind="token")
    cluster.set_credentials({"token": "t"})
    cluster.save()
    return cluster


def test_preview_of_a_pending_request_matches_what_is_applied_after_approval(stub_cluster, team, member, manager, viewer, django_capture_on_commit_callbacks):
    request = namespace_request_submit(actor=member, team=team, cluster=stub_cluster, name="payments-dev", purpose="checkout",
                                       quota={"requests.cpu": "1", "limits.cpu": "2"})

    preview = bundle_for_request(request)

    assert preview[0]["metadata"]["annotations"]["portal.platform.io/request"] == str(request.pk)
    assert preview[0]["metadata"]["annotations"]["portal.platform.io/owner"] == "alice"
    assert by_kind(preview, "ResourceQuota")[0]["spec"]["hard"] == {"limits.cpu": "2", "requests.cpu": "1"}
    assert [b["metadata"]["name"] for b in by_kind(preview, "RoleBinding")] == ["portal-alice-edit", "portal-bob-admin", "portal-victor-view"]

    with django_capture_on_commit_callbacks(execute=False):  # no worker here: only the rows
        request_approve(actor=manager, request=request)
    request.refresh_from_db()

    assert bundle_for_request(request) == bundle_for_namespace(request.namespace) == preview


def test_bundle_selector_reads_in_constant_queries(stub_cluster, team, member, manager, django_assert_max_num_queries):
    from apps.accounts.models import User as UserModel

    for i in range(10):
        Membership.objects.create(team=team, user=UserModel.objects.create(username=f"dev{i}"), role="member")
    namespace = Namespace.objects.create(cluster=stub_cluster, name="payments-dev", team=team, owner=member, quota=BOOK_QUOTA)
    namespace = Namespace.objects.select_related("team", "owner").get(pk=namespace.pk)

    with django_assert_max_num_queries(2):  # memberships+users, origin request
        objects = bundle_for_namespace(namespace)

    assert len(by_kind(objects, "RoleBinding")) == 12
