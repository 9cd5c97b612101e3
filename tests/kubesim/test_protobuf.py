"""kubesim.protobuf: decoding the protobuf bodies real kubectl sends.

The fixtures under fixtures/protobuf/ are bodies captured from kubectl
v1.32 (see protobuf_capture.py); the expected dicts below are the JSON that
the same kubectl sends for the same command with ``-o json``-style encoding,
i.e. what kube-apiserver would see after decoding.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from kubesim import errors, protobuf
from tests.kubesim import protobuf_capture

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


# --- a tiny encoder, only to build edge cases the fixtures do not cover -----


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, bool):
        return _varint(number << 3) + _varint(int(value))
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    if isinstance(value, str):
        value = value.encode()
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw)


# --- captured kubectl bodies ------------------------------------------------


def test_fixtures_come_from_real_kubectl():
    index = json.loads((FIXTURES / "index.json").read_text())
    assert index["kubectl"].startswith("v1.")
    for name, request in index["requests"].items():
        assert request["contentType"] == "application/vnd.kubernetes.protobuf", name
        assert fixture(name).startswith(b"k8s\x00"), name


def test_create_namespace():
    assert protobuf.decode(fixture("create_namespace")) == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "team-a", "creationTimestamp": None},
        "spec": {},
        "status": {},
    }


def test_certificate_approve_round_trips_the_whole_csr():
    obj = protobuf.decode(fixture("certificate_approve"))
    expected = protobuf_capture.CSR
    assert obj["apiVersion"] == "certificates.k8s.io/v1"
    assert obj["kind"] == "CertificateSigningRequest"
    assert obj["metadata"] == expected["metadata"]
    assert obj["spec"] == expected["spec"]
    assert base64.b64decode(obj["spec"]["request"]) == protobuf_capture.CSR_PEM
    [condition] = obj["status"]["conditions"]
    assert condition["type"] == "Approved"
    assert condition["status"] == "True"
    assert condition["reason"] == "KubectlApprove"
    assert condition["message"] == "This CSR was approved by kubectl certificate approve."
    assert condition["lastUpdateTime"].endswith("Z") and len(condition["lastUpdateTime"]) == 20
    assert condition["lastTransitionTime"] is None


def test_certificate_deny():
    [condition] = protobuf.decode(fixture("certificate_deny"))["status"]["conditions"]
    assert (condition["type"], condition["reason"]) == ("Denied", "KubectlDeny")


@pytest.mark.parametrize(
    "name, spec",
    [
        ("auth_can_i_resource", {"resourceAttributes": {"namespace": "team-a", "verb": "create", "resource": "pods"}}),
        ("auth_can_i_named", {"resourceAttributes": {"namespace": "team-a", "verb": "get", "resource": "configmaps", "name": "settings"}}),
        (
            "auth_can_i_subresource",
            {"resourceAttributes": {"verb": "update", "group": "certificates.k8s.io", "resource": "certificatesigningrequests", "subresource": "approval"}},
        ),
        ("auth_can_i_nonresource", {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}),
    ],
)
def test_auth_can_i(name, spec):
    assert protobuf.decode(fixture(name)) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {},
    }


def test_auth_can_i_list_sends_selfsubjectrulesreview():
    obj = protobuf.decode(fixture("auth_can_i_list"))
    assert obj["kind"] == "SelfSubjectRulesReview"
    assert obj["spec"] == {"namespace": "team-a"}


def test_auth_whoami():
    assert protobuf.decode(fixture("auth_whoami")) == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {}},
    }


def test_create_configmap_keeps_empty_values():
    obj = protobuf.decode(fixture("create_configmap"))
    assert obj["metadata"] == {"name": "settings", "namespace": "team-a", "creationTimestamp": None}
    assert obj["data"] == {"mode": "fast", "empty": ""}


def test_create_secret_data_is_base64():
    obj = protobuf.decode(fixture("create_secret"))
    assert base64.b64decode(obj["data"]["password"]) == b"s3cr3t"


def test_create_quota_quantities_are_strings():
    obj = protobuf.decode(fixture("create_quota"))
    assert obj["spec"] == {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"}}


def test_rbac_objects():
    role = protobuf.decode(fixture("create_role"))
    # kubectl sends the core group as an explicit empty string: it must survive.
    assert role["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "configmaps"]}]
    binding = protobuf.decode(fixture("create_rolebinding"))
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert binding["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "team-a"},
    ]
    cluster_role = protobuf.decode(fixture("create_clusterrole"))
    assert cluster_role["rules"][0]["resourceNames"] == ["team-a"]
    assert "aggregationRule" not in cluster_role  # pointer field, absent on the wire
    crb = protobuf.decode(fixture("create_clusterrolebinding"))
    assert crb["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}]


def test_create_deployment_pod_template():
    obj = protobuf.decode(fixture("create_deployment"))
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 8080}], "resources": {}}
    ]


def test_dry_run_body_is_the_same_shape():
    assert protobuf.decode(fixture("create_namespace_dry_run"))["metadata"]["name"] == "team-b"


def test_live_kubectl_bodies_decode(kubectl_binary):
    """The installed kubectl still sends bodies the decoder understands (guards against drift)."""
    kubectl = kubectl_binary
    commands = {k: protobuf_capture.COMMANDS[k] for k in ("create_namespace", "certificate_approve", "auth_can_i_resource", "auth_whoami")}
    captured = protobuf_capture.capture(kubectl, commands)
    assert set(captured) == set(commands)
    assert protobuf.decode(captured["create_namespace"]["body"])["metadata"]["name"] == "team-a"
    assert protobuf.decode(captured["certificate_approve"]["body"])["status"]["conditions"][0]["type"] == "Approved"
    assert captured["certificate_approve"]["method"] == "PUT"
    assert captured["certificate_approve"]["path"].endswith("/certificatesigningrequests/alice/approval")
    assert protobuf.decode(captured["auth_whoami"]["body"])["kind"] == "SelfSubjectReview"


# --- constructed edge cases --------------------------------------------------


def test_delete_options_fall_back_to_meta_v1():
    preconditions = _field(1, "uid-1") + _field(2, "17")
    raw = _field(1, 30) + _field(2, preconditions) + _field(4, "Foreground") + _field(5, "All")
    obj = protobuf.decode(_envelope("v1", "DeleteOptions", raw))
    assert obj == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 30,
        "preconditions": {"uid": "uid-1", "resourceVersion": "17"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_pointer_scalars_keep_zero_and_negative_ints_decode():
    # DeploymentSpec.replicas is *int32: an explicit 0 must survive; minReadySeconds is a plain int32.
    spec = _field(1, 0) + _field(5, -5)
    obj = protobuf.decode(_envelope("apps/v1", "Deployment", _field(2, spec)))
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["minReadySeconds"] == -5


def test_owner_references_times_and_inline_structs():
    owner = _field(1, "Deployment") + _field(3, "web") + _field(4, "u-1") + _field(5, "apps/v1") + _field(6, True)
    time = _field(1, 1714566645)  # 2024-05-01T12:30:45Z
    meta = _field(1, "p") + _field(8, time) + _field(13, owner) + _field(14, "example.com/cleanup")
    # EnvVarSource.secretKeyRef -> SecretKeySelector embeds LocalObjectReference (json:",inline").
    selector = _field(1, _field(1, "creds")) + _field(2, "password")
    env = _field(1, "PASSWORD") + _field(3, _field(4, selector))
    container = _field(1, "app") + _field(2, "busybox") + _field(7, env)
    pod = _field(1, meta) + _field(2, _field(2, container))
    obj = protobuf.decode(_envelope("v1", "Pod", pod))
    assert obj["metadata"]["creationTimestamp"] == "2024-05-01T12:30:45Z"
    assert obj["metadata"]["ownerReferences"] == [{"kind": "Deployment", "name": "web", "uid": "u-1", "apiVersion": "apps/v1", "controller": True}]
    assert obj["metadata"]["finalizers"] == ["example.com/cleanup"]
    [container_json] = obj["spec"]["containers"]
    assert container_json["env"] == [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]


def test_int_or_string_and_packed_repeated():
    port = _field(1, "TCP") + _field(2, _field(1, 1) + _field(3, "http"))  # IntOrString type=1 (string)
    peer = _field(1, _field(1, _field(1, "a") + _field(2, "b")))  # podSelector.matchLabels
    policy_spec = _field(2, _field(1, port) + _field(2, peer))
    obj = protobuf.decode(_envelope("networking.k8s.io/v1", "NetworkPolicy", _field(2, policy_spec)))
    rule = obj["spec"]["ingress"][0]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"a": "b"}}}]
    # A packed repeated int32 (proto3 style) is accepted: PodFailurePolicyOnExitCodesRequirement.values.
    packed = _varint(3 << 3 | 2) + _varint(3) + _varint(1) + _varint(2) + _varint(3)
    req = protobuf.decode_message("k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", _field(2, "In") + packed)
    assert req == {"operator": "In", "values": [1, 2, 3]}


def test_double_and_fixed_wire_types():
    assert protobuf._scalar(protobuf.T_DOUBLE, 1, int.from_bytes(struct.pack("<d", 1.5), "little"), "x") == 1.5
    with pytest.raises(protobuf.ProtobufError, match="wrong wireType = 0 for field x"):
        protobuf._scalar(protobuf.T_STRING, 0, 5, "x")


def test_unknown_fields_are_skipped_like_gogo():
    raw = _field(1, _field(1, "n")) + _field(99, "from a newer client")
    assert protobuf.decode(_envelope("v1", "Namespace", raw))["metadata"]["name"] == "n"


# --- errors: the same status codes and wording as kube-apiserver -------------


def _status(exc: pytest.ExceptionInfo) -> tuple[int, str, str]:
    err = exc.value
    assert isinstance(err, errors.StatusError)
    return err.code, err.reason, err.message


def test_empty_body():
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(b"", expected_kind="Namespace")
    assert _status(exc) == (400, "BadRequest", "the object provided is unrecognized (must be of type Namespace): empty data (<empty>)")


def test_json_sent_as_protobuf():
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(b'{"kind":"Namespace"}', expected_kind="Namespace")
    code, reason, message = _status(exc)
    assert (code, reason) == (400, "BadRequest")
    assert message == (
        "the object provided is unrecognized (must be of type Namespace): provided data does not appear to be a "
        'protobuf message, expected prefix [107 56 115 0] ({"kind":"Namespace"})'
    )


def test_truncated_body():
    body = fixture("create_namespace")[:-5]
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(body, expected_kind="Namespace")
    code, reason, message = _status(exc)
    assert (code, reason) == (400, "BadRequest")
    assert "unexpected EOF" in message


def test_wrong_wire_type_inside_object():
    raw = _field(1, 7)  # metadata as a varint
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(_envelope("v1", "Namespace", raw), expected_kind="Namespace")
    assert _status(exc) == (400, "BadRequest", 'Namespace in version "v1" cannot be handled as a Namespace: proto: wrong wireType = 0 for field metadata')


def test_missing_kind():
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(_envelope("v1", "", _field(1, _field(1, "n"))))
    code, _, message = _status(exc)
    assert code == 400 and message.startswith("Object 'Kind' is missing in '")


def test_unregistered_kind_in_builtin_group():
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(_envelope("v1", "Frobnicator", b""), expected_kind="Namespace")
    assert _status(exc) == (
        400,
        "BadRequest",
        'Frobnicator in version "v1" cannot be handled as a Namespace: no kind "Frobnicator" is registered for version "v1" '
        'in scheme "pkg/api/legacyscheme/scheme.go:30"',
    )


def test_custom_resources_are_415():
    body = _envelope("constraints.gatekeeper.sh/v1beta1", "K8sRequiredLabels", _field(1, _field(1, "must-have-team")))
    assert not protobuf.supports("constraints.gatekeeper.sh/v1beta1", "K8sRequiredLabels")
    with pytest.raises(errors.StatusError) as exc:
        protobuf.decode(body)
    assert _status(exc) == (
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
    )


def test_supports_builtin_kinds():
    for api_version, kind in [
        ("v1", "Namespace"),
        ("v1", "ResourceQuota"),
        ("v1", "LimitRange"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("apps/v1", "Deployment"),
        ("certificates.k8s.io/v1", "DeleteOptions"),
    ]:
        assert protobuf.supports(api_version, kind), (api_version, kind)


def test_unknown_with_json_content_type():
    """runtime.Unknown may carry JSON bytes when contentType says so."""
    inner = json.dumps({"metadata": {"name": "x"}}).encode()
    body = b"k8s\x00" + _field(1, _field(1, "v1") + _field(2, "Namespace")) + _field(2, inner) + _field(4, "application/json")
    assert protobuf.decode(body) == {"metadata": {"name": "x"}, "apiVersion": "v1", "kind": "Namespace"}


def test_regenerating_the_schema_is_reproducible():
    """The committed field table equals what the generator derives from a kubectl binary."""
    binary = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
    if not binary.exists():
        pytest.skip("kubectl 1.33 binary not installed")
    pytest.importorskip("kubernetes_validate")
    from kubesim import protobuf_schema

    schema = protobuf.build_schema(protobuf.extract_descriptors(binary.read_bytes()), protobuf._load_definitions("1.33"))
    assert schema == protobuf_schema.MESSAGES
