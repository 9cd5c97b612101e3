"""The install package (deploy/kubernetes): rendered by the real ``kubectl kustomize``, every object valid
against the Kubernetes JSON schema (``kubernetes-validate``, strict), every pod meeting Pod Security
``restricted``, every container with requests, limits and probes, no secret in it, and accepted by an
API server (kubesim) in a server-side dry run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "deploy" / "kubernetes"
VARIANTS = {"base": PACKAGE / "base", "production": PACKAGE / "overlays" / "production"}
WORKLOADS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request, kubectl_binary) -> tuple[str, list[dict]]:
    result = subprocess.run([kubectl_binary, "kustomize", str(VARIANTS[request.param])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout, [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pod_specs(objects):
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            yield obj, obj["spec"]["template"]["spec"]


def test_the_package_has_every_part(rendered):
    _, objects = rendered
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for expected in [("Deployment", "portal-web"), ("Deployment", "portal-worker"), ("Deployment", "portal-beat"),
                     ("Job", "portal-migrate"), ("Service", "portal-web"), ("Ingress", "portal"), ("ServiceAccount", "portal"),
                     ("ClusterRole", "platform-portal"), ("ClusterRoleBinding", "platform-portal"), ("ConfigMap", "portal-config"),
                     ("PodDisruptionBudget", "portal-web"), ("PodDisruptionBudget", "portal-worker"),
                     ("NetworkPolicy", "default-deny")]:
        assert expected in kinds, f"missing {expected}"
    beat = next(o for o in objects if o["metadata"]["name"] == "portal-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"  # never two schedulers
    deny = next(o for o in objects if o["metadata"]["name"] == "default-deny")
    assert deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    namespaced = [o for o in objects if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"platform-portal"}


def test_every_object_is_valid_against_the_kubernetes_schema(rendered):
    _, objects = rendered
    version = kubernetes_validate.latest_version()
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_every_pod_meets_pod_security_restricted(rendered):
    """The restricted profile's checks (kubernetes.io/docs/concepts/security/pod-security-standards)."""
    _, objects = rendered
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
    for obj, spec in pod_specs(objects):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        pod = spec.get("securityContext", {})
        assert not any(spec.get(f) for f in ("hostNetwork", "hostPID", "hostIPC")), where
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= allowed_volumes, f"{where}: volume {volume}"
        for container in spec.get("initContainers", []) + spec["containers"]:
            c = container.get("securityContext", {})
            name = f"{where} container {container['name']}"
            assert c.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, name
            assert c.get("runAsUser", pod.get("runAsUser", 1)) != 0, name
            assert c.get("allowPrivilegeEscalation") is False, name
            assert not c.get("privileged"), name
            assert "ALL" in c.get("capabilities", {}).get("drop", []), name
            assert set(c.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, name
            seccomp = c.get("seccompProfile", pod.get("seccompProfile", {})).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), name
            assert c.get("readOnlyRootFilesystem") is True, f"{name}: the root file system should be read-only"
            assert not container.get("ports") or all("hostPort" not in p for p in container["ports"]), name


def test_every_container_has_requests_limits_and_probes(rendered):
    _, objects = rendered
    for obj, spec in pod_specs(objects):
        for container in spec["containers"]:
            name = f"{obj['kind']}/{obj['metadata']['name']} container {container['name']}"
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{name}: {kind}"
            if obj["kind"] == "Job":
                continue  # runs to completion: nothing to probe
            assert "livenessProbe" in container and "readinessProbe" in container, f"{name}: probes"
    web = next(spec for obj, spec in pod_specs(objects) if obj["metadata"]["name"] == "portal-web")["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz" and web["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_no_secret_is_in_the_package(rendered):
    text, objects = rendered
    assert "Secret" not in {o["kind"] for o in objects}
    for _obj, spec in pod_specs(objects):
        for container in spec["containers"]:
            assert {"secretRef": {"name": "portal-secrets"}} in container["envFrom"]
            for var in container.get("env", []):
                assert var["name"] not in ("SECRET_KEY", "CLUSTER_CREDENTIAL_KEYS", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN")
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    for key in config["data"]:
        assert not any(word in key for word in ("SECRET", "PASSWORD", "TOKEN", "DATABASE_URL", "REDIS_URL")), key


def test_the_package_is_accepted_by_an_api_server_in_a_server_side_dry_run(rendered, kubesim, kubectl_binary, tmp_path):
    text, objects = rendered
    kubeconfig = kubesim.admin_kubeconfig
    # As on a real API server, a dry run creates no namespace for the objects after it: the
    # namespace exists first (an earlier apply, or `kubectl create namespace`).
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    created = subprocess.run([kubectl_binary, "create", "namespace", "platform-portal"], capture_output=True, text=True, env=env)
    assert created.returncode == 0, created.stderr
    kubesim.request_log.clear()
    result = subprocess.run([kubectl_binary, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "--dry-run=server",
                             "--field-manager=portal-install", "-f", "-"], input=text, capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr
    reported = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(reported) == len(objects), result.stdout
    assert all(line.endswith("serverside-applied (server dry run)") for line in reported), result.stdout
    # A dry run writes nothing.
    assert kubesim.request_log.writes() == []
