"""kubesim.openapi: the documents kubectl reads to decide on validation, and strict field checks."""

from __future__ import annotations

import gzip
import json
import ssl
import time
import urllib.request

import pytest
import yaml

from kubesim import openapi, resources
from kubesim.resources import ResourceType


def _doc(path: str) -> dict:
    data = openapi.v3_document(path)
    assert data is not None, path
    return json.loads(data)


def _all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _all_refs(item)


def test_index_lists_every_group_version_with_a_hash():
    index = openapi.v3_index()["paths"]
    for group, version in resources.group_versions():
        path = f"api/{version}" if not group else f"apis/{group}/{version}"
        url = index[path]["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{path}?hash=")
        assert len(url.rsplit("=", 1)[1]) == 128  # sha512, upper-case hex like kube-apiserver


def test_every_writable_type_advertises_server_side_field_validation():
    """What kubectl's QueryParamVerifierV3 looks for: a PATCH op with the GVK extension and a fieldValidation param."""
    for rt in resources.all_types():
        if "patch" not in rt.verbs:
            continue
        doc = _doc(f"api/{rt.version}" if not rt.group else f"apis/{rt.group}/{rt.version}")
        matches = [
            op for item in doc["paths"].values() for method, op in item.items()
            if method == "patch" and op["x-kubernetes-group-version-kind"] == {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ]
        assert matches, rt
        for op in matches:
            names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
            assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= names, rt


def test_create_only_kinds_have_only_a_post():
    doc = _doc("apis/authorization.k8s.io/v1")
    item = doc["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(item) == {"post", "parameters"}
    assert item["post"]["x-kubernetes-action"] == "post"
    assert "/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews" in doc["paths"]


def test_namespaced_paths_and_subresources():
    doc = _doc("api/v1")
    paths = doc["paths"]
    assert "/api/v1/namespaces/{namespace}/resourcequotas/{name}/status" in paths
    assert "/api/v1/resourcequotas" in paths  # list across namespaces
    assert paths["/api/v1/namespaces/{namespace}/configmaps"]["parameters"][0]["name"] == "namespace"
    csr = _doc("apis/certificates.k8s.io/v1")["paths"]
    approval = csr["/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval"]
    assert approval["put"]["operationId"] == "replaceCertificatesV1CertificateSigningRequestApproval"
    assert approval["put"]["x-kubernetes-group-version-kind"]["kind"] == "CertificateSigningRequest"


def test_patch_content_types_builtin_vs_custom():
    core = _doc("api/v1")["paths"]["/api/v1/namespaces/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in core["requestBody"]["content"]
    custom = _doc("apis/constraints.gatekeeper.sh/v1beta1")["paths"]["/apis/constraints.gatekeeper.sh/v1beta1/k8srequiredlabels/{name}"]["patch"]
    assert set(custom["requestBody"]["content"]) == {"application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"}


def test_components_are_complete_and_refs_resolve():
    for group, version in resources.group_versions():
        doc = _doc(f"api/{version}" if not group else f"apis/{group}/{version}")
        schemas = doc["components"]["schemas"]
        for ref in set(_all_refs(doc)):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.rsplit("/", 1)[1] in schemas, (group, version, ref)


def test_top_level_schemas_carry_gvk_and_real_extensions():
    schemas = _doc("api/v1")["components"]["schemas"]
    ns = schemas["io.k8s.api.core.v1.Namespace"]
    assert ns["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Namespace", "version": "v1"}]
    assert "enum" not in ns["properties"]["kind"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"] == [{"type": "string"}, {"type": "number"}]


def test_custom_resource_schemas_are_permissive():
    schemas = _doc("apis/constraints.gatekeeper.sh/v1beta1")["components"]["schemas"]
    constraint = schemas["sh.gatekeeper.constraints.v1beta1.K8sRequiredLabels"]
    assert constraint["x-kubernetes-group-version-kind"] == [{"group": "constraints.gatekeeper.sh", "kind": "K8sRequiredLabels", "version": "v1beta1"}]
    assert constraint["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert constraint["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] is True
    assert "sh.gatekeeper.constraints.v1beta1.K8sRequiredLabelsList" in schemas


def test_documents_are_cached_and_rebuilt_when_a_kind_is_registered():
    first = openapi.v3_document("apis/constraints.gatekeeper.sh/v1beta1")
    assert openapi.v3_document("apis/constraints.gatekeeper.sh/v1beta1") is first  # cached bytes, no rebuild
    start = time.perf_counter()
    for _ in range(1000):
        openapi.v3_document("api/v1")
    assert time.perf_counter() - start < 0.5
    before = openapi.v3_index()["paths"]["apis/constraints.gatekeeper.sh/v1beta1"]["serverRelativeURL"]
    rt = ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8sblockwildcards", "K8sBlockWildcards", False,
                      "k8sblockwildcards", (), resources.ALL_VERBS, ("status",))
    resources.register(rt)
    try:
        after = openapi.v3_index()["paths"]["apis/constraints.gatekeeper.sh/v1beta1"]["serverRelativeURL"]
        assert after != before
        doc = _doc("apis/constraints.gatekeeper.sh/v1beta1")
        assert "/apis/constraints.gatekeeper.sh/v1beta1/k8sblockwildcards/{name}" in doc["paths"]
    finally:
        resources.unregister("constraints.gatekeeper.sh", "v1beta1", "k8sblockwildcards")
    assert openapi.v3_index()["paths"]["apis/constraints.gatekeeper.sh/v1beta1"]["serverRelativeURL"] == before


def test_unknown_paths_are_none():
    assert openapi.v3_document("apis/nope.example.com/v1") is None


def test_v2_document_is_swagger_json():
    doc = json.loads(openapi.v2_document())
    assert doc["swagger"] == "2.0"
    assert all(ref.startswith("#/definitions/") for ref in _all_refs(doc))
    assert all(ref.rsplit("/", 1)[1] in doc["definitions"] for ref in set(_all_refs(doc)))
    patch = doc["paths"]["/api/v1/namespaces/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert doc["definitions"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"


# --- strict field validation -------------------------------------------------


def test_unknown_fields_paths_like_the_apiserver():
    deploy = resources.lookup("apps", "v1", "deployments")
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"anything": "goes"}, "bogus": 1},
        "spec": {
            "replica": 3,
            "template": {"spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 1, "containerPorts": 2}],
                                                  "resources": {"limits": {"cpu": "1"}}}]}},
        },
        "status": {},
    }
    assert openapi.unknown_fields(deploy, obj) == ["metadata.bogus", "spec.replica", "spec.template.spec.containers[0].ports[0].containerPorts"]
    err = openapi.strict_decoding_error(deploy, obj)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "metadata.bogus", '
        'unknown field "spec.replica", unknown field "spec.template.spec.containers[0].ports[0].containerPorts"'
    )
    assert openapi.unknown_field_messages(deploy, obj)[0] == 'unknown field "metadata.bogus"'


def test_known_objects_pass():
    ns = resources.NAMESPACES
    assert openapi.strict_decoding_error(ns, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}) is None
    quota = resources.lookup("", "v1", "resourcequotas")
    obj = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
           "spec": {"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [{"operator": "In", "scopeName": "PriorityClass", "values": ["x"]}]}}}
    assert openapi.unknown_fields(quota, obj) == []
    # IntOrString / Quantity values are leaves, never "unknown".
    policy = resources.lookup("networking.k8s.io", "v1", "networkpolicies")
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"},
           "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}, {"port": 80}]}]}}
    assert openapi.unknown_fields(policy, obj) == []


def test_policy_reports_have_top_level_results():
    for plural in ("policyreports", "clusterpolicyreports"):
        rt = resources.lookup("wgpolicyk8s.io", "v1alpha2", plural)
        obj = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": rt.kind, "metadata": {"name": "r"},
               "scope": {"kind": "Namespace", "name": "team-a"},
               "summary": {"pass": 3, "fail": 1, "warn": 0, "error": 0, "skip": 0},
               "results": [{"policy": "require-labels", "result": "fail", "resources": [{"kind": "Pod", "name": "p"}], "properties": {"a": "b"}}]}
        assert openapi.unknown_fields(rt, obj) == []
        obj["summary"]["bogus"] = 1
        obj["spec"] = {}
        assert openapi.unknown_fields(rt, obj) == ["summary.bogus", "spec"]


def test_custom_resources_only_check_the_envelope():
    rt = resources.lookup("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels")
    obj = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels",
           "metadata": {"name": "x", "nope": 1}, "spec": {"parameters": {"labels": ["a"]}, "whatever": {}}, "status": {"totalViolations": 2}, "extra": True}
    assert openapi.unknown_fields(rt, obj) == ["metadata.nope", "extra"]


def test_bundled_definitions_match_the_generator():
    kv = pytest.importorskip("kubernetes_validate")
    from pathlib import Path

    source = Path(kv.__file__).parent / "kubernetes-json-schema" / "v1.32.0-local" / "_definitions.json"
    expected = openapi.build_definitions(json.loads(source.read_text())["$defs"])
    assert json.loads(gzip.decompress(openapi.DEFINITIONS_FILE.read_bytes())) == expected


# --- over HTTPS --------------------------------------------------------------


def test_served_over_https(kubesim):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    user = config["users"][0]["user"]
    import base64
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = f"{tmp}/c.pem", f"{tmp}/k.pem"
        open(cert, "wb").write(base64.b64decode(user["client-certificate-data"]))
        open(key, "wb").write(base64.b64decode(user["client-key-data"]))
        ctx = ssl.create_default_context(cafile=str(kubesim.ca_path))
        ctx.load_cert_chain(cert, key)
        with urllib.request.urlopen(f"{kubesim.url}/openapi/v3", context=ctx) as resp:
            index = json.loads(resp.read())
        url = index["paths"]["api/v1"]["serverRelativeURL"]
        with urllib.request.urlopen(f"{kubesim.url}{url}", context=ctx) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            doc = json.loads(resp.read())
        assert "/api/v1/namespaces" in doc["paths"]
        with urllib.request.urlopen(f"{kubesim.url}/openapi/v2", context=ctx) as resp:
            assert json.loads(resp.read())["swagger"] == "2.0"
