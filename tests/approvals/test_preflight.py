"""Admission preflight: before approving, the cluster's own admission chain judges what approving applies (dry run)."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_reconcile, namespace_request_submit
from tests.conftest import official_client, wait_for

QUOTA = {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "50"}


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a, **k: None)


@pytest.fixture
def live(kubesim_cluster, team, member):
    _, cluster = kubesim_cluster
    namespace = Namespace.objects.create(team=team, cluster=cluster, name="payments-live", owner=member, quota=dict(QUOTA))
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    return namespace


def quota_change(api, namespace) -> int:
    response = api.post("/api/v1/quota-requests/", {"namespace": namespace.pk, "quota": {**QUOTA, "pods": "60"}, "reason": "r"},
                        format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.django_db
def test_new_namespace_preflight_accepts_the_namespace_and_says_what_it_could_not_check(kubesim_cluster, team, member, manager,
                                                                                       api_client_for):
    handle, cluster = kubesim_cluster
    req = namespace_request_submit(actor=member, team=team, cluster=cluster, name="payments-new", quota=QUOTA)
    handle.request_log.clear()
    verdict = api_client_for(manager).get(f"/api/v1/requests/{req.pk}/preflight/").json()
    assert verdict["supported"] is True and verdict["denied"] is False and verdict["error"] == ""
    assert verdict["items"][0] == {"kind": "Namespace", "name": "payments-new", "outcome": "accepted", "message": "", "warnings": []}
    assert {i["outcome"] for i in verdict["items"][1:]} == {"not_checked"}
    assert "does not exist yet" in verdict["items"][1]["message"]
    # A dry run: the cluster has no such namespace afterwards, and nothing was written.
    assert handle.request_log.writes() == []
    assert "dryRun=All" in next(e.query for e in handle.request_log.entries() if e.verb == "patch")
    with pytest.raises(k8s.exceptions.ApiException):
        k8s.CoreV1Api(official_client(handle.admin_kubeconfig)).read_namespace("payments-new")


@pytest.mark.django_db
def test_quota_change_preflight_accepted_on_a_healthy_namespace(live, member, manager, api_client_for):
    req_id = quota_change(api_client_for(member), live)
    verdict = api_client_for(manager).get(f"/api/v1/requests/{req_id}/preflight/").json()
    assert [(i["kind"], i["outcome"]) for i in verdict["items"]] == [("ResourceQuota", "accepted"), ("LimitRange", "accepted")]


@pytest.mark.django_db
def test_denied_preflight_needs_an_override_reason_which_is_audited(kubesim_cluster, live, member, manager, api_client_for,
                                                                    client_for):
    handle, _ = kubesim_cluster
    core = k8s.CoreV1Api(official_client(handle.admin_kubeconfig))
    # Someone deletes the namespace by hand; a finalizer keeps it Terminating, its quota is gone.
    core.create_namespaced_config_map("payments-live", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespace("payments-live")
    wait_for(lambda: not core.list_namespaced_resource_quota("payments-live").items, message="quota removed by the namespace controller")
    req_id = quota_change(api_client_for(member), live)

    verdict = api_client_for(manager).get(f"/api/v1/requests/{req_id}/preflight/").json()
    denied = verdict["items"][0]
    assert verdict["denied"] is True and denied["outcome"] == "denied"
    assert "unable to create new content in namespace payments-live because it is being terminated" in denied["message"]
    page = client_for(manager).get(f"/requests/{req_id}/").content.decode()
    assert "Preflight: the cluster's admission, as a dry run" in page and 'name="override_reason"' in page

    refused = api_client_for(manager).post(f"/api/v1/requests/{req_id}/approve/", {"reason": "ok"}, format="json")
    assert refused.status_code == 400 and "the cluster's admission denies" in refused.json()["override_reason"][0]
    assert Request.objects.get(pk=req_id).state == "submitted" and Namespace.objects.get(pk=live.pk).quota == QUOTA

    approved = api_client_for(manager).post(f"/api/v1/requests/{req_id}/approve/",
                                            {"reason": "ok", "override_reason": "namespace is being restored"}, format="json")
    assert approved.status_code == 200, approved.json()
    event = AuditEvent.objects.get(action="request.approve", target_id=str(req_id))
    assert event.message.startswith("preflight denied (ResourceQuota team-quota:")
    assert event.message.endswith("overridden: namespace is being restored")


@pytest.mark.django_db
def test_unreachable_cluster_is_no_denial(kubesim_cluster, live, member, manager, api_client_for):
    handle, _ = kubesim_cluster
    req_id = quota_change(api_client_for(member), live)
    handle.faults.fail_next(2, status=503, verbs=("patch",))
    verdict = api_client_for(manager).get(f"/api/v1/requests/{req_id}/preflight/").json()
    assert verdict["denied"] is False and verdict["items"] == [] and "could not ask cluster sim" in verdict["error"]
    approved = api_client_for(manager).post(f"/api/v1/requests/{req_id}/approve/", {}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "applying"


@pytest.mark.django_db
def test_a_namespace_that_is_not_ours_is_never_dry_run(kubesim_cluster, team, member, manager, api_client_for):
    handle, cluster = kubesim_cluster
    req = namespace_request_submit(actor=member, team=team, cluster=cluster, name="legacy-app", quota=QUOTA)
    k8s.CoreV1Api(official_client(handle.admin_kubeconfig)).create_namespace({"metadata": {"name": "legacy-app"}})
    handle.request_log.clear()
    verdict = api_client_for(manager).get(f"/api/v1/requests/{req.pk}/preflight/").json()
    assert verdict["items"] == [{"kind": "Namespace", "name": "legacy-app", "outcome": "denied", "warnings": [],
                                 "message": 'namespace "legacy-app" exists on the cluster and is not managed by the portal'}]
    assert [e.verb for e in handle.request_log.entries() if e.user_agent.startswith("platform-portal")] == ["get"]
    # And no override makes the portal take it.
    response = api_client_for(manager).post(f"/api/v1/requests/{req.pk}/approve/", {"override_reason": "please"}, format="json")
    assert response.status_code == 400 and "not managed by the portal" in response.json()["name"][0]


@pytest.mark.django_db
def test_join_requests_have_no_preflight_and_outsiders_get_404(api_client_for, member, manager, outsider, team):
    join = Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=outsider, payload={"role": "member"})
    assert api_client_for(manager).get(f"/api/v1/requests/{join.pk}/preflight/").json()["supported"] is False
    from tests.pages import make_cluster, make_request

    req = make_request(team, member, make_cluster("dev"), "payments-x")
    assert api_client_for(outsider).get(f"/api/v1/requests/{req.pk}/preflight/").status_code == 404


@pytest.mark.django_db
def test_preflight_returns_the_clusters_admission_warnings(kubesim_cluster, team, member):
    """Tightening pod security on a namespace with offending pods: the dry run warns, as kube-apiserver does, and writes nothing."""
    from apps.clusters import kube
    from apps.namespaces.selectors import bundle_for_namespace

    handle, cluster = kubesim_cluster
    namespace = Namespace.objects.create(team=team, cluster=cluster, name="payments-old", owner=member, quota=dict(QUOTA),
                                         pod_security_level="privileged")
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    core = k8s.CoreV1Api(official_client(handle.admin_kubeconfig))
    core.create_namespaced_pod("payments-old", {"metadata": {"name": "root-pod"}, "spec": {"containers": [
        {"name": "app", "image": "nginx", "securityContext": {"privileged": True},
         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}}]}})
    namespace.pod_security_level = "restricted"  # what a change would apply; not saved
    handle.request_log.clear()
    items = kube.preflight(cluster, bundle_for_namespace(namespace)[:1])
    assert items[0].outcome == "accepted"
    assert items[0].warnings[0] == 'existing pods in namespace "payments-old" violate the new PodSecurity enforce level "restricted:latest"'
    assert items[0].warnings[1].startswith("root-pod: privileged")
    assert handle.request_log.writes() == []
    live = core.read_namespace("payments-old").metadata.labels
    assert live["pod-security.kubernetes.io/enforce"] == "privileged"
