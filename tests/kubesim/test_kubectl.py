"""Real kubectl against kubesim: the commands the portal and its operators use, errors included.

Every expected message below is what kubectl prints against a real
kube-apiserver (v1.32) for the same command. Known differences are listed
under "Fidelity gaps" in kubesim/README.md, not hidden behind xfail markers.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.kubectl

RFC1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def make_csr(cn: str, groups=()) -> tuple[bytes, bytes]:
    """(csr_pem, key_pem) for a client certificate request."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return csr.public_bytes(serialization.Encoding.PEM), key_pem


def csr_manifest(name: str, csr_pem: bytes, expiration: int = 3600) -> str:
    return yaml.safe_dump({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr_pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "expirationSeconds": expiration,
            "usages": ["client auth"],
        },
    })


def pod_manifest(name: str, namespace: str, **container_extra) -> str:
    container = {"name": "app", "image": "busybox:1.36", **container_extra}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                           "spec": {"containers": [container]}})


def get_json(kubectl, *args) -> dict:
    return json.loads(kubectl.ok("get", *args, "-o", "json"))


# ---------------------------------------------------------------------------
# Discovery, reads and output formats (one shared kubesim)
# ---------------------------------------------------------------------------


class TestReads:
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _seed(cls, kubectl_module):
        kubectl_module.ok("create", "namespace", "team-a")
        kubectl_module.ok("label", "namespace", "team-a", "portal.example/team=payments", "env=dev")
        kubectl_module.ok("create", "namespace", "team-b")
        kubectl_module.ok("label", "namespace", "team-b", "env=prod")
        kubectl_module.ok("create", "quota", "compute", "--hard=pods=10,requests.cpu=2,limits.memory=4Gi", "-n", "team-a")
        kubectl_module.ok("create", "rolebinding", "payments-edit", "--clusterrole=edit", "--group=payments", "-n", "team-a")
        kubectl_module.ok("create", "configmap", "settings", "--from-literal=mode=fast", "-n", "team-a")

    def test_version_reports_the_server(self, kubectl_module):
        out = json.loads(kubectl_module.ok("version", "-o", "json"))
        assert out["serverVersion"]["major"] == "1"
        assert out["serverVersion"]["gitVersion"].startswith("v1.32.")

    def test_api_resources_include_short_names(self, kubectl_module):
        out = kubectl_module.ok("api-resources", "--no-headers")
        rows = {line.split()[0]: line.split() for line in out.splitlines()}
        assert rows["resourcequotas"][1] == "quota"
        assert rows["namespaces"][1] == "ns"
        assert "certificatesigningrequests" in rows and rows["certificatesigningrequests"][1] == "csr"
        assert "constrainttemplates" in rows and "policyreports" in rows

    def test_api_versions(self, kubectl_module):
        versions = kubectl_module.ok("api-versions").split()
        for gv in ("v1", "apps/v1", "rbac.authorization.k8s.io/v1", "certificates.k8s.io/v1", "constraints.gatekeeper.sh/v1beta1", "wgpolicyk8s.io/v1alpha2"):
            assert gv in versions

    def test_get_namespaces_lists_seeded_and_created(self, kubectl_module):
        out = kubectl_module.ok("get", "ns", "-o", "name")
        assert {"namespace/default", "namespace/kube-system", "namespace/team-a", "namespace/team-b"} <= set(out.split())

    def test_get_tables_have_the_real_columns(self, kubectl_module):
        """Server-side printing: the columns kube-apiserver's table convertors produce."""
        lines = kubectl_module.ok("get", "ns").splitlines()
        assert lines[0].split() == ["NAME", "STATUS", "AGE"]
        assert ["team-a", "Active"] == lines[[line.split()[0] for line in lines].index("team-a")].split()[:2]
        assert kubectl_module.ok("get", "quota", "-n", "team-a").splitlines()[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
        assert kubectl_module.ok("get", "rolebindings", "-n", "team-a").splitlines()[0].split() == ["NAME", "ROLE", "AGE"]
        row = kubectl_module.ok("get", "rolebindings", "-n", "team-a", "--no-headers").split()
        assert row[:2] == ["payments-edit", "ClusterRole/edit"]
        assert kubectl_module.ok("get", "configmaps", "-n", "team-a").splitlines()[0].split() == ["NAME", "DATA", "AGE"]

    def test_get_namespace_yaml(self, kubectl_module):
        obj = yaml.safe_load(kubectl_module.ok("get", "ns", "team-a", "-o", "yaml"))
        assert obj["kind"] == "Namespace" and obj["apiVersion"] == "v1"
        assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team-a"
        assert obj["status"]["phase"] == "Active"
        assert obj["spec"]["finalizers"] == ["kubernetes"]
        assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"].isdigit()

    def test_get_jsonpath(self, kubectl_module):
        out = kubectl_module.ok("get", "ns", "team-a", "-o", "jsonpath={.metadata.labels.portal\\.example/team}")
        assert out == "payments"

    def test_get_label_selector(self, kubectl_module):
        assert kubectl_module.ok("get", "ns", "-l", "env=dev", "-o", "name").split() == ["namespace/team-a"]
        assert kubectl_module.ok("get", "ns", "-l", "env in (dev,prod)", "-o", "name").split() == ["namespace/team-a", "namespace/team-b"]
        assert kubectl_module.ok("get", "ns", "-l", "env,env!=dev", "-o", "name").split() == ["namespace/team-b"]

    def test_get_field_selector(self, kubectl_module):
        assert kubectl_module.ok("get", "ns", "--field-selector", "metadata.name=team-b", "-o", "name").split() == ["namespace/team-b"]
        err = kubectl_module.fail("get", "ns", "--field-selector", "spec.nope=1")
        assert err.strip() == 'Error from server (BadRequest): Unable to find "/v1, Resource=namespaces" that match label selector "", field selector "spec.nope=1": field label not supported: spec.nope'

    def test_get_quota_and_status(self, kubectl_module):
        quota = get_json(kubectl_module, "quota", "compute", "-n", "team-a")
        assert quota["spec"]["hard"] == {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"}
        assert quota["status"]["hard"] == quota["spec"]["hard"]
        assert quota["status"]["used"]["pods"] == "0"

    def test_describe_quota(self, kubectl_module):
        out = kubectl_module.ok("describe", "quota", "compute", "-n", "team-a")
        lines = [line.split() for line in out.splitlines()]
        assert ["Name:", "compute"] in lines
        assert ["Namespace:", "team-a"] in lines
        assert ["Resource", "Used", "Hard"] in lines
        assert ["limits.memory", "0", "4Gi"] in lines
        assert ["pods", "0", "10"] in lines

    def test_get_and_describe_rolebindings(self, kubectl_module):
        assert kubectl_module.ok("get", "rolebindings", "-n", "team-a", "-o", "name").split() == ["rolebinding.rbac.authorization.k8s.io/payments-edit"]
        out = kubectl_module.ok("describe", "rolebinding", "payments-edit", "-n", "team-a")
        lines = [line.split() for line in out.splitlines()]
        assert ["Kind:", "ClusterRole"] in lines and ["Name:", "edit"] in lines
        assert ["Group", "payments"] in lines

    def test_describe_namespace_shows_quota(self, kubectl_module):
        out = kubectl_module.ok("describe", "ns", "team-a")
        assert "Status:       Active" in out
        assert "Resource Quotas" in out and "compute" in out

    def test_get_pods_empty(self, kubectl_module):
        result = kubectl_module.run("get", "pods", "-n", "team-b")
        assert result.ok and result.stdout == ""
        assert result.stderr.strip() == "No resources found in team-b namespace."

    def test_get_missing_is_404(self, kubectl_module):
        assert kubectl_module.fail("get", "ns", "nope").strip() == 'Error from server (NotFound): namespaces "nope" not found'
        assert kubectl_module.fail("get", "configmap", "nope", "-n", "team-a").strip() == 'Error from server (NotFound): configmaps "nope" not found'

    def test_get_unknown_resource_type(self, kubectl_module):
        err = kubectl_module.fail("get", "frobnicators")
        assert err.strip() == 'error: the server doesn\'t have a resource type "frobnicators"'

    def test_explain_uses_openapi_v3(self, kubectl_module):
        out = kubectl_module.ok("explain", "resourcequota.spec.hard")
        assert "KIND:       ResourceQuota" in out
        assert "FIELD: hard <map[string]Quantity>" in out

    def test_get_raw_version(self, kubectl_module):
        assert json.loads(kubectl_module.ok("get", "--raw", "/version"))["major"] == "1"

    def test_auth_can_i_list(self, kubectl_module):
        out = kubectl_module.ok("auth", "can-i", "--list", "-n", "team-a", "--as=someone")
        assert "selfsubjectaccessreviews.authorization.k8s.io" in out


# ---------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox:1.36"}]},
        },
    },
}


def test_create_namespace_protobuf_and_duplicates(kubectl):
    assert kubectl.ok("create", "namespace", "team-x").strip() == "namespace/team-x created"
    assert kubectl.fail("create", "namespace", "team-x").strip() == 'Error from server (AlreadyExists): namespaces "team-x" already exists'
    assert kubectl.ok("create", "namespace", "dry", "--dry-run=server").strip() == "namespace/dry created (server dry run)"
    assert kubectl.fail("get", "ns", "dry").strip() == 'Error from server (NotFound): namespaces "dry" not found'


def test_create_namespace_invalid_name_is_422(kubectl):
    err = kubectl.fail("create", "namespace", "Bad_Name")
    assert err.strip() == f'The Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {RFC1123_LABEL}'


def test_typed_create_subcommands(kubectl):
    """kubectl's typed `create X` generators all send protobuf bodies."""
    kubectl.ok("create", "namespace", "apps")
    assert kubectl.ok("create", "configmap", "settings", "--from-literal=mode=fast", "-n", "apps").strip() == "configmap/settings created"
    assert kubectl.ok("create", "secret", "generic", "creds", "--from-literal=password=s3cr3t", "-n", "apps").strip() == "secret/creds created"
    assert kubectl.ok("create", "serviceaccount", "deployer", "-n", "apps").strip() == "serviceaccount/deployer created"
    assert kubectl.ok("create", "role", "reader", "--verb=get,list", "--resource=pods", "-n", "apps").strip() == "role.rbac.authorization.k8s.io/reader created"
    assert kubectl.ok("create", "rolebinding", "reader", "--role=reader", "--serviceaccount=apps:deployer", "-n", "apps").strip() == "rolebinding.rbac.authorization.k8s.io/reader created"
    assert kubectl.ok("create", "clusterrole", "ns-reader", "--verb=get", "--resource=namespaces").strip() == "clusterrole.rbac.authorization.k8s.io/ns-reader created"
    assert kubectl.ok("create", "clusterrolebinding", "ns-reader", "--clusterrole=ns-reader", "--group=ops").strip() == "clusterrolebinding.rbac.authorization.k8s.io/ns-reader created"
    assert kubectl.ok("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", "apps").strip() == "deployment.apps/web created"
    secret = get_json(kubectl, "secret", "creds", "-n", "apps")
    assert base64.b64decode(secret["data"]["password"]) == b"s3cr3t"
    binding = get_json(kubectl, "rolebinding", "reader", "-n", "apps")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "apps"}]
    deployment = get_json(kubectl, "deployment", "web", "-n", "apps")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_create_from_file_and_delete(kubectl, tmp_path):
    manifest = tmp_path / "bundle.yaml"
    manifest.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bundle"}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "bundle"}, "spec": {"hard": {"pods": "5"}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "bundle"},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny-all", "namespace": "bundle"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
    ]))
    out = kubectl.ok("create", "-f", str(manifest))
    assert out.splitlines() == [
        "namespace/bundle created",
        "resourcequota/q created",
        "limitrange/defaults created",
        "networkpolicy.networking.k8s.io/deny-all created",
    ]
    err = kubectl.fail("create", "-f", str(manifest))
    assert f'Error from server (AlreadyExists): error when creating "{manifest}": namespaces "bundle" already exists' in err
    assert kubectl.ok("delete", "networkpolicy", "deny-all", "-n", "bundle").strip() == 'networkpolicy.networking.k8s.io "deny-all" deleted'
    assert kubectl.fail("delete", "networkpolicy", "deny-all", "-n", "bundle").strip() == 'Error from server (NotFound): networkpolicies.networking.k8s.io "deny-all" not found'


def test_client_side_apply_and_reapply(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    manifest = tmp_path / "web.yaml"
    manifest.write_text(yaml.safe_dump(DEPLOYMENT))
    assert kubectl.ok("apply", "-f", str(manifest)).strip() == "deployment.apps/web created"
    rv = get_json(kubectl, "deploy", "web", "-n", "apps")["metadata"]["resourceVersion"]
    assert kubectl.ok("apply", "-f", str(manifest)).strip() == "deployment.apps/web unchanged"
    assert get_json(kubectl, "deploy", "web", "-n", "apps")["metadata"]["resourceVersion"] == rv
    changed = json.loads(json.dumps(DEPLOYMENT))
    changed["spec"]["replicas"] = 3
    manifest.write_text(yaml.safe_dump(changed))
    assert kubectl.ok("apply", "-f", str(manifest)).strip() == "deployment.apps/web configured"
    obj = get_json(kubectl, "deploy", "web", "-n", "apps")
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]


def test_server_side_apply_noop_keeps_resource_version(kubectl, tmp_path):
    manifest = tmp_path / "ns.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ssa", "labels": {"team": "a"}}}))
    assert kubectl.ok("apply", "--server-side", "-f", str(manifest)).strip() == "namespace/ssa serverside-applied"
    first = get_json(kubectl, "ns", "ssa", "--show-managed-fields")
    assert kubectl.ok("apply", "--server-side", "-f", str(manifest)).strip() == "namespace/ssa serverside-applied"
    second = get_json(kubectl, "ns", "ssa", "--show-managed-fields")
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    managers = {entry["manager"]: entry["operation"] for entry in second["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"


def test_server_side_apply_conflict(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    kubectl.ok("create", "configmap", "shared", "--from-literal=owner=first", "-n", "apps")
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "apps"}, "data": {"owner": "second"}}))
    err = kubectl.fail("apply", "--server-side", "--field-manager=second", "-f", str(manifest))
    assert "Apply failed with 1 conflict: conflict with \"kubectl-create\"" in err
    assert ".data.owner" in err
    assert kubectl.ok("apply", "--server-side", "--field-manager=second", "--force-conflicts", "-f", str(manifest)).strip() == "configmap/shared serverside-applied"
    assert get_json(kubectl, "cm", "shared", "-n", "apps")["data"]["owner"] == "second"


def test_label_and_annotate(kubectl):
    kubectl.ok("create", "namespace", "team-l")
    assert kubectl.ok("label", "ns", "team-l", "env=dev").strip() == "namespace/team-l labeled"
    assert kubectl.fail("label", "ns", "team-l", "env=prod").strip() == "error: 'env' already has a value (dev), and --overwrite is false"
    assert kubectl.ok("label", "ns", "team-l", "env=prod", "--overwrite").strip() == "namespace/team-l labeled"
    assert kubectl.ok("label", "ns", "team-l", "env-").strip() == "namespace/team-l unlabeled"
    assert kubectl.ok("annotate", "ns", "team-l", "portal.example/owner=alice").strip() == "namespace/team-l annotated"
    meta = get_json(kubectl, "ns", "team-l")["metadata"]
    assert "env" not in meta["labels"]
    assert meta["annotations"]["portal.example/owner"] == "alice"


def test_patch_json_merge_and_strategic(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    manifest = tmp_path / "web.yaml"
    manifest.write_text(yaml.safe_dump(DEPLOYMENT))
    kubectl.ok("create", "-f", str(manifest))
    # strategic merge (kubectl's default): containers merge by name, the sidecar survives.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}
    assert kubectl.ok("patch", "deployment", "web", "-n", "apps", "-p", json.dumps(patch)).strip() == "deployment.apps/web patched"
    containers = get_json(kubectl, "deploy", "web", "-n", "apps")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "nginx:1.28"), ("sidecar", "busybox:1.36")]
    # merge patch replaces lists wholesale.
    kubectl.ok("patch", "deployment", "web", "-n", "apps", "--type=merge", "-p", json.dumps(patch))
    containers = get_json(kubectl, "deploy", "web", "-n", "apps")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]
    kubectl.ok("patch", "deployment", "web", "-n", "apps", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":4}]')
    assert get_json(kubectl, "deploy", "web", "-n", "apps")["spec"]["replicas"] == 4
    # A failed json-patch test operation is a 422, as on a real server.
    err = kubectl.fail("patch", "deployment", "web", "-n", "apps", "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":1}]')
    assert err.startswith('The request is invalid: the server rejected our request due to an error in our request') or "testing value /spec/replicas failed" in err
    # patch with no change
    assert kubectl.ok("patch", "deployment", "web", "-n", "apps", "--type=merge", "-p", '{"spec":{"replicas":4}}').strip() == "deployment.apps/web patched (no change)"


def test_replace_with_stale_resource_version_is_409(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    kubectl.ok("create", "configmap", "c", "--from-literal=a=1", "-n", "apps")
    stale = tmp_path / "stale.yaml"
    stale.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps", "resourceVersion": "1"}, "data": {"a": "2"}}))
    err = kubectl.fail("replace", "-f", str(stale))
    assert err.strip() == (
        f'Error from server (Conflict): error when replacing "{stale}": Operation cannot be fulfilled on configmaps "c": '
        "the object has been modified; please apply your changes to the latest version and try again"
    )


def test_immutable_role_ref_is_422(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    kubectl.ok("create", "rolebinding", "rb", "--clusterrole=view", "--user=bob", "-n", "apps")
    err = kubectl.fail("patch", "rolebinding", "rb", "-n", "apps", "--type=merge", "-p", '{"roleRef":{"name":"edit"}}')
    assert 'The RoleBinding "rb" is invalid: roleRef: Invalid value:' in err
    assert "cannot change roleRef" in err


def test_unknown_fields_rejected_by_server_side_validation(kubectl, tmp_path):
    kubectl.ok("create", "namespace", "apps")
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "apps"}, "data": {"a": "b"}, "bogus": 1}))
    err = kubectl.fail("create", "-f", str(manifest))
    assert err.strip() == (
        f'Error from server (BadRequest): error when creating "{manifest}": ConfigMap in version "v1" cannot be handled '
        'as a ConfigMap: strict decoding error: unknown field "bogus"'
    )
    assert kubectl.ok("create", "--validate=false", "-f", str(manifest)).strip() == "configmap/cm created"


def test_delete_namespace_and_wait(kubectl):
    kubectl.ok("create", "namespace", "doomed")
    kubectl.ok("create", "configmap", "c", "--from-literal=a=1", "-n", "doomed")
    assert kubectl.ok("delete", "namespace", "doomed", "--wait=false").strip() == 'namespace "doomed" deleted'
    result = kubectl.run("wait", "--for=delete", "namespace/doomed", "--timeout=30s")
    assert result.ok, str(result)
    assert kubectl.fail("get", "ns", "doomed").strip() == 'Error from server (NotFound): namespaces "doomed" not found'


# ---------------------------------------------------------------------------
# Identity and authorization
# ---------------------------------------------------------------------------


def test_auth_whoami(kubectl, kubesim):
    out = kubectl.ok("auth", "whoami", "-o", "json")
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == "kubesim-admin"
    assert "system:masters" in info["groups"] and "system:authenticated" in info["groups"]
    bob = kubectl.with_kubeconfig(kubesim.kubeconfig_for("bob", ["dev"]))
    table = bob.ok("auth", "whoami")
    assert table.splitlines()[0].split() == ["ATTRIBUTE", "VALUE"]
    assert ["Username", "bob"] in [line.split() for line in table.splitlines()]


def test_auth_can_i_allowed_denied_and_impersonation(kubectl):
    kubectl.ok("create", "namespace", "team-a")
    assert kubectl.ok("auth", "can-i", "create", "pods", "-n", "team-a").strip() == "yes"
    denied = kubectl.run("auth", "can-i", "create", "pods", "-n", "team-a", "--as=bob")
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    assert kubectl.ok("auth", "can-i", "create", "pods", "-n", "team-a", "--as=bob", "--as-group=system:masters").strip() == "yes"
    kubectl.ok("create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob", "-n", "team-a")
    assert kubectl.ok("auth", "can-i", "create", "pods", "-n", "team-a", "--as=bob").strip() == "yes"
    assert kubectl.run("auth", "can-i", "create", "rolebindings", "-n", "team-a", "--as=bob").stdout.strip() == "no"
    assert kubectl.run("auth", "can-i", "list", "pods", "-n", "team-b", "--as=bob").stdout.strip() == "no"
    assert kubectl.ok("auth", "can-i", "get", "/healthz", "--as=bob").strip() == "yes"
    assert kubectl.ok("auth", "can-i", "create", "selfsubjectaccessreviews.authorization.k8s.io", "--as=bob").strip() == "yes"


def test_forbidden_for_user_without_bindings(kubectl, kubesim):
    kubectl.ok("create", "namespace", "team-a")
    carol = kubectl.with_kubeconfig(kubesim.kubeconfig_for("carol"))
    assert carol.fail("get", "pods", "-n", "team-a").strip() == (
        'Error from server (Forbidden): pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "team-a"'
    )
    assert carol.fail("create", "namespace", "mine").strip() == (
        'Error from server (Forbidden): namespaces is forbidden: User "carol" cannot create resource "namespaces" in API group "" at the cluster scope'
    )
    assert carol.fail("get", "ns", "team-a").strip() == (
        'Error from server (Forbidden): namespaces "team-a" is forbidden: User "carol" cannot get resource "namespaces" in API group "" in the namespace "team-a"'
    )
    assert carol.fail("get", "pods", "-n", "team-a", "--as=kubesim-admin").strip() == (
        'Error from server (Forbidden): users "kubesim-admin" is forbidden: User "carol" cannot impersonate resource "users" in API group "" at the cluster scope'
    )


def test_bad_credentials_are_401(kubectl, kubesim, tmp_path):
    # A cold discovery cache (the session's shared one already knows this address): discovery is the first request.
    anonymous = kubectl.with_kubeconfig(kubesim.token_kubeconfig("not-a-valid-token", tmp_path / "bad.kubeconfig"),
                                        cache_dir=tmp_path / "cold-kubectl-cache")
    # Discovery fails first; kubectl logs the discovery errors and ends with this line (as against a real server).
    last = anonymous.fail("get", "ns").strip().splitlines()[-1]
    assert last == "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    # A request that needs no discovery shows the server's own Status message.
    assert anonymous.fail("get", "--raw", "/api/v1/namespaces").strip() == "error: You must be logged in to the server (Unauthorized)"


def test_service_account_token(kubectl, kubesim, tmp_path):
    kubectl.ok("create", "namespace", "portal")
    kubectl.ok("create", "serviceaccount", "portal", "-n", "portal")
    kubectl.ok("create", "clusterrolebinding", "portal-view", "--clusterrole=view", "--serviceaccount=portal:portal")
    sa = kubectl.with_kubeconfig(kubesim.token_kubeconfig(kubesim.service_account_token("portal", "portal"), tmp_path / "sa.kubeconfig"))
    info = json.loads(sa.ok("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:portal:portal"
    assert {"system:serviceaccounts", "system:serviceaccounts:portal", "system:authenticated"} <= set(info["groups"])
    assert sa.ok("get", "ns", "portal", "-o", "name").strip() == "namespace/portal"


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------


def test_certificate_approve_and_the_signed_cert_authenticates(kubectl, kubesim, tmp_path):
    csr_pem, key_pem = make_csr("dana", ["payments"])
    assert kubectl.ok("create", "-f", "-", input=csr_manifest("dana", csr_pem)).strip() == "certificatesigningrequest.certificates.k8s.io/dana created"
    csr = get_json(kubectl, "csr", "dana")
    assert csr["spec"]["username"] == "kubesim-admin"
    assert "status" not in csr or not csr["status"].get("certificate")
    assert kubectl.ok("certificate", "approve", "dana").strip() == "certificatesigningrequest.certificates.k8s.io/dana approved"
    deadline = time.monotonic() + 10
    while True:
        status = get_json(kubectl, "csr", "dana").get("status", {})
        if status.get("certificate") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [c["type"] for c in status["conditions"]] == ["Approved"]
    assert status["conditions"][0]["reason"] == "KubectlApprove"
    table = kubectl.ok("get", "csr", "dana").splitlines()
    assert table[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    row = table[1].split()
    assert (row[0], row[2], row[3], row[4], row[5]) == ("dana", "kubernetes.io/kube-apiserver-client", "kubesim-admin", "60m", "Approved,Issued")
    cert_pem = base64.b64decode(status["certificate"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dana"
    # Like kube-controller-manager's signer: notBefore is backdated 5 minutes, notAfter = now + expirationSeconds.
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.total_seconds() == 3600 + 300

    (tmp_path / "dana.crt").write_bytes(cert_pem)
    (tmp_path / "dana.key").write_bytes(key_pem)
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert_pem).decode(),
        "client-key-data": base64.b64encode(key_pem).decode(),
    }
    path = tmp_path / "dana.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    dana = kubectl.with_kubeconfig(path)
    info = json.loads(dana.ok("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert info["username"] == "dana"
    assert "payments" in info["groups"]
    # Approving again is a no-op; denying an approved CSR is refused by kubectl itself.
    assert kubectl.ok("certificate", "approve", "dana").strip() == "certificatesigningrequest.certificates.k8s.io/dana approved"


def test_certificate_deny_leaves_it_unsigned(kubectl):
    csr_pem, _ = make_csr("eve")
    kubectl.ok("create", "-f", "-", input=csr_manifest("eve", csr_pem))
    assert kubectl.ok("certificate", "deny", "eve").strip() == "certificatesigningrequest.certificates.k8s.io/eve denied"
    # No wait needed: the signer runs synchronously on the approval write, before kubectl gets its answer.
    status = get_json(kubectl, "csr", "eve")["status"]
    assert [c["type"] for c in status["conditions"]] == ["Denied"]
    assert not status.get("certificate")


def test_certificate_approve_needs_signer_permission(kubectl, kubesim):
    csr_pem, _ = make_csr("frank")
    kubectl.ok("create", "-f", "-", input=csr_manifest("frank", csr_pem))
    # Bob may update the approval subresource but holds no `approve` on the signer.
    kubectl.ok("create", "clusterrole", "csr-approval", "--verb=get,list,update", "--resource=certificatesigningrequests,certificatesigningrequests/approval")
    kubectl.ok("create", "clusterrolebinding", "bob-csr", "--clusterrole=csr-approval", "--user=bob")
    bob = kubectl.with_kubeconfig(kubesim.kubeconfig_for("bob"))
    err = bob.fail("certificate", "approve", "frank")
    assert err.strip() == (
        'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "frank" is forbidden: '
        'user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"'
    )
    kubectl.ok("create", "clusterrolebinding", "bob-approver", "--clusterrole=system:certificates.k8s.io:kube-apiserver-client-approver", "--user=bob")
    assert bob.ok("certificate", "approve", "frank").strip() == "certificatesigningrequest.certificates.k8s.io/frank approved"


# ---------------------------------------------------------------------------
# Admission: quota and Pod Security
# ---------------------------------------------------------------------------


def test_quota_exceeded_and_must_specify(kubectl):
    kubectl.ok("create", "namespace", "team-q")
    kubectl.ok("create", "quota", "pods", "--hard=pods=1", "-n", "team-q")
    assert kubectl.ok("create", "-f", "-", input=pod_manifest("p1", "team-q")).strip() == "pod/p1 created"
    err = kubectl.fail("create", "-f", "-", input=pod_manifest("p2", "team-q"))
    assert err.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "p2" is forbidden: '
        "exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1"
    )
    kubectl.ok("delete", "pod", "p1", "-n", "team-q")
    kubectl.ok("create", "quota", "cpu", "--hard=requests.cpu=1", "-n", "team-q")
    err = kubectl.fail("create", "-f", "-", input=pod_manifest("p3", "team-q"))
    assert err.strip() == 'Error from server (Forbidden): error when creating "STDIN": pods "p3" is forbidden: failed quota: cpu: must specify requests.cpu for: app'
    big = pod_manifest("p4", "team-q", resources={"requests": {"cpu": "2"}})
    err = kubectl.fail("create", "-f", "-", input=big)
    assert err.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "p4" is forbidden: '
        "exceeded quota: cpu, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1"
    )


def test_pod_security_restricted_rejects_privileged_pod(kubectl):
    kubectl.ok("create", "namespace", "locked")
    kubectl.ok("label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted")
    err = kubectl.fail("create", "-f", "-", input=pod_manifest("bad", "locked", securityContext={"privileged": True}))
    assert err.startswith('Error from server (Forbidden): error when creating "STDIN": pods "bad" is forbidden: violates PodSecurity "restricted:latest": privileged (container "app" must not set securityContext.privileged=true)')
    good = pod_manifest("good", "locked", securityContext={
        "allowPrivilegeEscalation": False, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    })
    assert kubectl.ok("create", "-f", "-", input=good).strip() == "pod/good created"


def test_create_in_missing_namespace_is_404(kubectl):
    err = kubectl.fail("create", "configmap", "c", "--from-literal=a=b", "-n", "ghost")
    assert err.strip() == 'error: failed to create configmap: namespaces "ghost" not found'


# ---------------------------------------------------------------------------
# Gatekeeper and policy reports (custom resources)
# ---------------------------------------------------------------------------


def test_gatekeeper_constraint_apply_and_status(kubectl, tmp_path):
    constraint = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",
        "metadata": {"name": "must-have-team"},
        "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Namespace"]}]}, "parameters": {"labels": ["team"]}},
    }
    manifest = tmp_path / "constraint.yaml"
    manifest.write_text(yaml.safe_dump(constraint))
    assert kubectl.ok("apply", "-f", str(manifest)).strip() == "k8srequiredlabels.constraints.gatekeeper.sh/must-have-team created"
    assert kubectl.ok("apply", "-f", str(manifest)).strip() == "k8srequiredlabels.constraints.gatekeeper.sh/must-have-team unchanged"
    status = {"status": {"totalViolations": 1, "violations": [{"kind": "Namespace", "name": "legacy", "message": "missing label team", "enforcementAction": "deny"}]}}
    out = kubectl.ok("patch", "k8srequiredlabels", "must-have-team", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert out.strip() == "k8srequiredlabels.constraints.gatekeeper.sh/must-have-team patched"
    obj = get_json(kubectl, "k8srequiredlabels", "must-have-team")
    assert obj["status"]["totalViolations"] == 1
    assert obj["spec"]["parameters"] == {"labels": ["team"]}
    # Custom resources have no strategic merge patch: the server's 415, as kubectl reports it.
    err = kubectl.fail("patch", "k8srequiredlabels", "must-have-team", "-p", '{"spec":{"enforcementAction":"dryrun"}}')
    assert err.strip() == (
        "error: application/strategic-merge-patch+json is not supported by constraints.gatekeeper.sh/v1beta1, Kind=K8sRequiredLabels: "
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def test_policy_reports(kubectl):
    kubectl.ok("create", "namespace", "team-p")
    report = {
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {"name": "polr-ns-team-p", "namespace": "team-p"},
        "summary": {"pass": 3, "fail": 1},
        "results": [{"policy": "require-labels", "result": "fail", "message": "label team is required"}],
    }
    assert kubectl.ok("create", "-f", "-", input=yaml.safe_dump(report)).strip() == "policyreport.wgpolicyk8s.io/polr-ns-team-p created"
    assert kubectl.ok("get", "polr", "-n", "team-p", "-o", "name").strip() == "policyreport.wgpolicyk8s.io/polr-ns-team-p"
    assert get_json(kubectl, "policyreport", "polr-ns-team-p", "-n", "team-p")["summary"]["fail"] == 1
