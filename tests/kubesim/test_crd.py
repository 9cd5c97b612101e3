"""CustomResourceDefinitions and Gatekeeper ConstraintTemplates, with real kubectl and the official client."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}
TEMPLATE = {
    "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate", "metadata": {"name": "k8sdisallowedtags"},
    "spec": {"crd": {"spec": {"names": {"kind": "K8sDisallowedTags"}, "validation": {"openAPIV3Schema": {
        "type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}}}},
             "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package k8sdisallowedtags"}]},
}


def apply(kubectl, tmp_path, obj: dict, name: str = "obj.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(obj))
    return kubectl.ok("apply", "-f", str(path))


def test_a_crd_is_established_and_kubectl_applies_its_resources_with_server_validation(kubectl, tmp_path):
    assert apply(kubectl, tmp_path, WIDGETS).strip() == "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    assert "condition met" in kubectl.ok("wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=10s")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "default"}, "spec": {"size": 3}}
    # No --validate=false: kubectl reads the kind's OpenAPI v3 and lets the server validate strictly.
    assert apply(kubectl, tmp_path, widget).strip() == "widget.example.com/w1 created"
    bad = {**widget, "metadata": {"name": "w2", "namespace": "default"}, "spec": {"size": 3, "colour": "red"}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert 'strict decoding error: unknown field "spec.colour"' in kubectl.fail("apply", "-f", str(path))
    table = kubectl.ok("get", "wd", "-n", "default")
    assert table.split()[:3] == ["NAME", "AGE", "w1"]
    resources = kubectl.ok("api-resources", "--api-group=example.com")
    assert "widgets" in resources and "wd" in resources and "Widget" in resources
    assert kubectl.ok("delete", "crd", "widgets.example.com").strip() == 'customresourcedefinition.apiextensions.k8s.io "widgets.example.com" deleted'
    assert "the server could not find the requested resource" in kubectl.fail("get", "widgets.v1.example.com", "-A")


def test_crd_status_subresource_list_and_deletion_with_the_official_client(admin_client):
    ext = client.ApiextensionsV1Api(admin_client)
    custom = client.CustomObjectsApi(admin_client)
    created = ext.create_custom_resource_definition(WIDGETS)
    crd = ext.read_custom_resource_definition("widgets.example.com")
    assert {c.type: c.status for c in crd.status.conditions} == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "Widget" and crd.status.stored_versions == ["v1"] and created.metadata.uid
    for i in range(5):
        custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": f"w{i}"}, "spec": {"size": i},
            "status": {"ignored": True}})
    first = custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets", limit=2)
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets", limit=10, _continue=first["metadata"]["continue"])
    assert len(rest["items"]) == 3
    w0 = custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w0")
    assert "status" not in w0  # with a status subresource, the main resource ignores status
    w0["status"] = {"ready": True}
    w0["spec"] = {"size": 99}
    written = custom.replace_namespaced_custom_object_status("example.com", "v1", "default", "widgets", "w0", w0)
    assert written["status"] == {"ready": True} and written["spec"] == {"size": 0}  # /status ignores spec
    ext.delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(client.exceptions.ApiException) as err:
        custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert err.value.status == 404


def test_a_crd_without_a_storage_version_is_invalid(admin_client):
    ext = client.ApiextensionsV1Api(admin_client)
    bad = yaml.safe_load(yaml.safe_dump(WIDGETS))
    bad["spec"]["versions"][0]["storage"] = False
    with pytest.raises(client.exceptions.ApiException) as err:
        ext.create_custom_resource_definition(bad)
    assert err.value.status == 422 and "must have exactly one version marked as storage version" in err.value.body
    bad = yaml.safe_load(yaml.safe_dump(WIDGETS))
    bad["metadata"]["name"] = "gadgets.example.com"
    with pytest.raises(client.exceptions.ApiException) as err:
        ext.create_custom_resource_definition(bad)
    assert err.value.status == 422 and "metadata.name" in err.value.body and "spec.names.plural" in err.value.body


def test_any_constraint_template_registers_its_constraint_kind(kubectl, admin_client, tmp_path):
    apply(kubectl, tmp_path, TEMPLATE)
    resources = kubectl.ok("api-resources", "--api-group=constraints.gatekeeper.sh")
    assert "k8sdisallowedtags" in resources and "K8sDisallowedTags" in resources
    constraint = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDisallowedTags", "metadata": {"name": "no-latest"},
                  "spec": {"enforcementAction": "warn", "parameters": {"tags": ["latest"]}}}
    assert apply(kubectl, tmp_path, constraint, "c.yaml").strip() == "k8sdisallowedtags.constraints.gatekeeper.sh/no-latest created"
    custom = client.CustomObjectsApi(admin_client)
    live = custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8sdisallowedtags", "no-latest")
    live["status"] = {"totalViolations": 1, "violations": [{"kind": "Pod", "name": "p", "namespace": "default", "message": "latest"}]}
    custom.replace_cluster_custom_object_status("constraints.gatekeeper.sh", "v1beta1", "k8sdisallowedtags", "no-latest", live)
    assert custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8sdisallowedtags",
                                            "no-latest")["status"]["totalViolations"] == 1
    kubectl.ok("delete", "constrainttemplate", "k8sdisallowedtags")
    assert "k8sdisallowedtags" not in kubectl.ok("api-resources", "--api-group=constraints.gatekeeper.sh")
