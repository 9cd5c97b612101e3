"""Field validation messages match k8s.io/apimachinery's."""

from __future__ import annotations

import pytest

from kubesim import errors, resources, validation

NS = resources.NAMESPACES
CM = resources.lookup("", "v1", "configmaps")
RB = resources.lookup("rbac.authorization.k8s.io", "v1", "rolebindings")
POD = resources.PODS


def causes(rt, obj):
    with pytest.raises(errors.StatusError) as exc:
        validation.validate_create(rt, obj)
    assert exc.value.code == 422 and exc.value.reason == "Invalid"
    return exc.value.details["causes"]


def test_dns1123_label_message_is_exact():
    assert validation.is_dns1123_label("Bad_Name") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
        "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert validation.is_dns1123_label("a.b") == ["must not contain dots"]
    assert validation.is_dns1123_label("a" * 64)[0] == "must be no more than 63 characters"


def test_namespace_name_uses_label_rules_configmap_uses_subdomain():
    assert causes(NS, {"metadata": {"name": "a.b"}})[0]["message"] == 'Invalid value: "a.b": must not contain dots'
    validation.validate_create(CM, {"metadata": {"name": "a.b", "namespace": "default"}})


def test_missing_name_is_required():
    (cause,) = causes(CM, {"metadata": {"namespace": "default"}})
    assert cause == {"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
                     "field": "metadata.name"}


def test_generate_name_fills_name():
    obj = {"metadata": {"generateName": "csr-"}}
    validation.apply_generate_name(obj)
    assert obj["metadata"]["name"].startswith("csr-") and len(obj["metadata"]["name"]) == 9


def test_label_values_are_checked():
    found = causes(CM, {"metadata": {"name": "x", "namespace": "d", "labels": {"ok": "has space"}}})
    assert found[0]["field"] == "metadata.labels" and "a valid label must be an empty string" in found[0]["message"]


def test_binding_role_ref_and_subjects():
    found = causes(RB, {"metadata": {"name": "rb", "namespace": "d"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "x"},
                        "subjects": [{"kind": "Robot", "name": "r"}]})
    fields = [c["field"] for c in found]
    assert fields == ["roleRef.kind", "subjects[0].kind"]
    assert found[0]["message"] == 'Unsupported value: "Pod": supported values: "Role", "ClusterRole"'


def test_role_ref_immutable_on_update():
    old = {"metadata": {"name": "rb", "namespace": "d"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}}
    new = {"metadata": {"name": "rb", "namespace": "d"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}}
    with pytest.raises(errors.StatusError) as exc:
        validation.validate_update(RB, new, old)
    assert exc.value.details["causes"][0]["field"] == "roleRef"
    assert exc.value.message.endswith("cannot change roleRef")


def test_pod_requires_containers_and_images():
    assert [c["field"] for c in causes(POD, {"metadata": {"name": "p", "namespace": "d"}, "spec": {}})] == ["spec.containers"]
    found = causes(POD, {"metadata": {"name": "p", "namespace": "d"},
                         "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x",
                                                                 "resources": {"limits": {"cpu": "lots"}}}]}})
    assert [c["field"] for c in found] == ["spec.containers[0].image", "spec.containers[1].name",
                                           "spec.containers[1].resources.limits[cpu]"]


def test_defaults_for_namespace_and_pod():
    ns = {"metadata": {"name": "team"}}
    validation.apply_defaults(NS, ns)
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team"
    assert ns["status"] == {"phase": "Active"} and ns["spec"]["finalizers"] == ["kubernetes"]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    validation.apply_defaults(POD, pod)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert pod["status"]["phase"] == "Pending" and pod["status"]["qosClass"] == "BestEffort"
