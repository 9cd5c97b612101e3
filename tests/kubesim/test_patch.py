"""Patch flavours and server-side apply field management."""

from __future__ import annotations

import json

import pytest

from kubesim import errors, patch, resources

DEPLOY = resources.lookup("apps", "v1", "deployments")
CM = resources.lookup("", "v1", "configmaps")
ROLE = resources.lookup("rbac.authorization.k8s.io", "v1", "roles")
CONSTRAINT = resources.lookup("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels")


def deployment():
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7", "finalizers": ["a"]},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}], "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy:1"},
        ]}}},
    }


def test_json_patch_ops():
    out = patch.apply_patch("json", deployment(), json.dumps([
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels", "value": {"a/b": "c"}},
        {"op": "remove", "path": "/spec/template/spec/containers/1"},
        {"op": "test", "path": "/spec/replicas", "value": 3},
    ]).encode(), DEPLOY)
    assert out["spec"]["replicas"] == 3
    assert out["metadata"]["labels"] == {"a/b": "c"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_json_patch_failures_are_422():
    with pytest.raises(errors.StatusError) as exc:
        patch.apply_patch("json", deployment(), b'[{"op":"replace","path":"/nope/x","value":1}]', DEPLOY)
    assert exc.value.code == 422
    with pytest.raises(errors.StatusError) as exc:
        patch.apply_patch("json", deployment(), b'[{"op":"test","path":"/spec/replicas","value":5}]', DEPLOY)
    assert exc.value.code == 422


def test_merge_patch_replaces_lists_and_deletes_nulls():
    out = patch.apply_patch("merge", deployment(), json.dumps(
        {"spec": {"replicas": None, "template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}}).encode(), DEPLOY)
    assert "replicas" not in out["spec"]
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "x"}]


def test_strategic_merge_merges_containers_and_env_by_name():
    body = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]},
        {"name": "new", "image": "busybox"},
    ]}}}}
    out = patch.apply_patch("strategic", deployment(), json.dumps(body).encode(), DEPLOY)
    containers = {c["name"]: c for c in out["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "sidecar", "new"}
    assert containers["app"]["image"] == "nginx:2"
    assert containers["app"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert containers["app"]["ports"] == [{"containerPort": 80}]


def test_strategic_merge_directives():
    body = {"metadata": {"finalizers": ["b"]},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    out = patch.apply_patch("strategic", deployment(), json.dumps(body).encode(), DEPLOY)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert out["metadata"]["finalizers"] == ["a", "b"]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "solo", "image": "x"}, {"$patch": "replace"}]}}}}
    out = patch.apply_patch("strategic", deployment(), json.dumps(body).encode(), DEPLOY)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "solo", "image": "x"}]


def test_strategic_merge_keeps_rbac_lists_atomic():
    role = {"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}
    out = patch.apply_patch("strategic", role, json.dumps({"rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["cm"]}]}).encode(), ROLE)
    assert out["rules"] == [{"verbs": ["list"], "apiGroups": [""], "resources": ["cm"]}]


def test_fields_v1_round_trip():
    paths = set()
    patch._leaf_paths(DEPLOY, deployment(), paths, top_exclude=("status",))
    encoded = patch.to_fields_v1(paths)
    assert encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']["."] == {}
    assert "f:name" not in encoded["f:metadata"] and "f:resourceVersion" not in encoded["f:metadata"]
    assert patch.from_fields_v1(encoded) == paths


def _apply(fm, live, cfg, manager, force=False):
    return fm.apply(CM, live, cfg, manager, force)


def cm_cfg(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": data}


def test_apply_creates_and_records_manager():
    fm = patch.FieldManager()
    obj = _apply(fm, None, cm_cfg(a="1"), "portal")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "portal" and entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_apply_conflict_with_other_manager_then_force():
    fm = patch.FieldManager()
    live = _apply(fm, None, cm_cfg(a="1"), "one")
    with pytest.raises(errors.StatusError) as exc:
        _apply(fm, live, cm_cfg(a="2"), "two")
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    assert exc.value.message == 'Apply failed with 1 conflict: conflict with "one" using v1: .data.a'
    assert exc.value.details["causes"][0] == {"reason": "FieldManagerConflict", "message": 'conflict with "one" using v1', "field": ".data.a"}
    forced = _apply(fm, live, cm_cfg(a="2"), "two", force=True)
    assert forced["data"] == {"a": "2"}
    assert [e["manager"] for e in forced["metadata"]["managedFields"]] == ["two"]


def test_same_value_is_shared_not_a_conflict():
    fm = patch.FieldManager()
    live = _apply(fm, None, cm_cfg(a="1"), "one")
    shared = _apply(fm, live, cm_cfg(a="1"), "two")
    assert {e["manager"] for e in shared["metadata"]["managedFields"]} == {"one", "two"}


def test_fields_dropped_from_config_are_removed_unless_owned_elsewhere():
    fm = patch.FieldManager()
    live = _apply(fm, None, cm_cfg(a="1", b="2"), "one")
    live = _apply(fm, live, cm_cfg(b="2"), "two")
    after = _apply(fm, live, cm_cfg(), "one")
    assert after["data"] == {"b": "2"}  # a removed, b kept because "two" owns it


def test_update_takes_ownership_of_changed_fields():
    fm = patch.FieldManager()
    live = _apply(fm, None, cm_cfg(a="1"), "one")
    changed = dict(live, data={"a": "9"})
    updated = fm.update(CM, live, changed, "kubectl-edit")
    owners = {e["manager"]: e for e in updated["metadata"].get("managedFields", [])}
    assert set(owners) == {"kubectl-edit"}
    with pytest.raises(errors.StatusError) as exc:
        _apply(fm, updated, cm_cfg(a="1"), "one")
    assert 'conflict with "kubectl-edit" using v1 at ' in exc.value.message


def test_manager_from_user_agent():
    assert patch.manager_from_user_agent("kubectl/v1.32.0 (linux/amd64)") == "kubectl"
    assert patch.manager_from_user_agent("") == "unknown"
