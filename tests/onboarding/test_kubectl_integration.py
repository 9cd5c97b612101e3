"""Real kubectl proves onboarding and offboarding (issue 4, item 5).

A newcomer asks to join (API), a manager approves, a real Celery worker
reconciles the team's namespaces on kubesim, the newcomer downloads a
kubeconfig (cluster-signed CSR) and ``/usr/bin/kubectl --kubeconfig`` then
shows exactly the access the bindings grant — until the newcomer is removed
from the team and the same kubeconfig is Forbidden everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit
from apps.onboarding.models import IssuedCertificate, Onboarding
from apps.teams.models import Membership
from apps.teams.services import membership_change_role, membership_remove
from tests.conftest import KUBECTL, make_user, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "5"}


class Kubectl:
    def __init__(self, kubeconfig, home):
        self.kubeconfig = str(kubeconfig)
        # Own HOME: kubectl's discovery cache must not leak between tests.
        self.env = dict(os.environ, HOME=str(home), KUBECACHEDIR=str(home / "cache"))

    def __call__(self, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "--request-timeout=10s", *args],
                              input=stdin, capture_output=True, text=True, env=self.env, timeout=60)


def ready_namespace(requester, approver, team, cluster, name) -> Namespace:
    req = namespace_request_submit(actor=requester, team=team, cluster=cluster, name=name, purpose="it", quota=QUOTA,
                                   pod_security_level="baseline")
    req = request_approve(actor=approver, request=req)
    return wait_for(lambda: Namespace.objects.filter(pk=req.namespace_id, phase=Namespace.Phase.READY).first(),
                    timeout=30, message=f"namespace {name} Ready")


QUOTA_BUSTER = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "too-big"},
    "spec": {"containers": [{"name": "app", "image": "nginx",
                             "resources": {"requests": {"cpu": "3", "memory": "128Mi"}, "limits": {"cpu": "3", "memory": "128Mi"}}}]},
}


def test_join_download_kubectl_then_offboard(kubectl_binary, celery_worker, kubesim_cluster, team, other_team, member, manager, outsider,
                                             admin_user, api_client_for, tmp_path):
    _, cluster = kubesim_cluster
    ours = ready_namespace(member, manager, team, cluster, "payments-dev")
    theirs = ready_namespace(outsider, admin_user, other_team, cluster, "search-dev")

    # 1. Join request through the API, approved by the team's manager.
    newbie = make_user("newbie")
    newbie_api = api_client_for(newbie)
    rid = newbie_api.post("/api/v1/membership-requests/", {"team": "payments", "note": "first day"}, format="json").json()["id"]
    r = api_client_for(manager).post(f"/api/v1/membership-requests/{rid}/approve/", {"reason": "welcome"}, format="json")
    assert r.status_code == 200, r.content
    wait_for(lambda: Request.objects.filter(pk=rid, state=Request.State.DONE).exists(), timeout=30,
             message="join request done (bindings confirmed on the cluster)")

    # 2. Download a kubeconfig (portal-generated key) for the team namespace.
    r = newbie_api.post("/api/v1/kubeconfigs/", {"cluster": "sim", "namespace": "payments-dev", "reason": "first day"}, format="json")
    assert r.status_code == 201, r.content
    path = tmp_path / "newbie.kubeconfig"
    path.write_text(r.json()["kubeconfig"])
    kubectl = Kubectl(path, tmp_path)
    cert = IssuedCertificate.objects.get(pk=r.json()["id"])
    assert cert.subject == "CN=portal:newbie"
    # The CSR object is gone from the cluster.
    from apps.clusters import kube

    assert kube.get_object(cluster, "certificates.k8s.io/v1", "CertificateSigningRequest", cert.csr_name) is None
    onboarding = Onboarding.objects.get(request_id=rid)
    assert onboarding.completed_at is not None and onboarding.seconds_from_approval is not None

    # 3. What the bindings grant — and nothing more.
    out = kubectl("get", "pods")
    assert out.returncode == 0, out.stderr
    out = kubectl("create", "deployment", "web", "--image=nginx")
    assert out.returncode == 0 and "deployment.apps/web created" in out.stdout, out.stderr
    for ns in (theirs.name, "kube-system"):
        out = kubectl("get", "pods", "-n", ns)
        assert out.returncode != 0 and "Forbidden" in out.stderr and 'User "portal:newbie"' in out.stderr, out.stderr
    out = kubectl("auth", "can-i", "create", "deployments")
    assert out.stdout.strip() == "yes", out
    out = kubectl("auth", "can-i", "create", "deployments", "-n", theirs.name)
    assert out.stdout.strip() == "no" and out.returncode == 1, out
    out = kubectl("apply", "-f", "-", stdin=json.dumps(QUOTA_BUSTER))
    assert out.returncode != 0 and "exceeded quota" in out.stderr, out.stderr
    assert "requested: limits.cpu=3" in out.stderr or "requested: " in out.stderr

    # 4. A role change changes the binding: as viewer, read but not write.
    membership_change_role(actor=manager, membership=Membership.objects.get(user=newbie, team=team), role="viewer")
    wait_for(lambda: kubectl("auth", "can-i", "create", "deployments").stdout.strip() == "no", timeout=30, interval=0.3,
             message="binding switched to view")
    assert kubectl("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    out = kubectl("create", "deployment", "web2", "--image=nginx")
    # kubectl's create prints the Status message ("... is forbidden: User ...").
    assert out.returncode != 0 and 'is forbidden: User "portal:newbie" cannot create resource "deployments"' in out.stderr, out.stderr

    # 5. Offboarding: removed from the team -> the same kubeconfig gets Forbidden everywhere.
    membership_remove(actor=manager, membership=Membership.objects.get(user=newbie, team=team))

    def forbidden_in_own_namespace():
        result = kubectl("get", "pods", "-n", ours.name)
        return result.returncode != 0 and "Forbidden" in result.stderr

    wait_for(forbidden_in_own_namespace, timeout=30, interval=0.3, message="RoleBinding removed by the reconcile")
    for ns in (ours.name, theirs.name, "kube-system"):
        out = kubectl("get", "deployments", "-n", ns)
        assert out.returncode != 0 and "Forbidden" in out.stderr, (ns, out.stderr)
    out = kubectl("auth", "can-i", "create", "deployments", "-n", ours.name)
    assert out.stdout.strip() == "no"
    # The certificate itself is still valid (no revocation in Kubernetes): it authenticates, it just grants nothing.
    out = kubectl("auth", "whoami", "-o", "json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"]["userInfo"]["username"] == "portal:newbie", out.stderr
