"""Quota change requests: ask (page and API), decide with the numbers and the live diff, apply.

Against kubesim where the cluster matters: the approval changes the row in the
decision's transaction and the reconcile puts the new hard values on the
cluster; the approver's diff reads the live objects, so a hand-edited quota
shows up.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace, QuotaTier
from apps.namespaces.services import namespace_reconcile
from apps.quotas.models import ApprovalRule, TeamBudget
from apps.quotas.services import quota_request_submit
from apps.usage.models import UsageSample
from tests.conftest import official_client
from tests.pages import make_cluster, make_namespace

pytestmark = pytest.mark.django_db

QUOTA = {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "50"}
BIGGER = {**QUOTA, "requests.cpu": "3", "limits.cpu": "6"}


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    """The tests run the reconcile themselves, synchronously."""
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a, **k: None)


@pytest.fixture
def dev_namespace(team, member):
    return make_namespace(team, make_cluster("dev"), "payments-dev", owner=member, quota=dict(QUOTA))


def submit(client, namespace, quota=BIGGER, **extra):
    body = {"namespace": namespace.pk, "quota": quota, "reason": "more traffic", **extra}
    return client.post("/api/v1/quota-requests/", body, format="json")


# --- submitting -------------------------------------------------------------------------------------------


def test_member_asks_over_the_api_and_a_replay_returns_the_same_request(api_client_for, member, dev_namespace):
    c = api_client_for(member)
    first = c.post("/api/v1/quota-requests/", {"namespace": dev_namespace.pk, "quota": BIGGER, "reason": "more traffic"},
                   format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["kind"], body["state"], body["namespace"], body["name"]) == ("quota", "submitted", dev_namespace.pk, "payments-dev")
    assert body["quota"] == BIGGER and body["previous"] == QUOTA and body["request_reason"] == "more traffic"
    again = c.post("/api/v1/quota-requests/", {"namespace": dev_namespace.pk, "quota": BIGGER, "reason": "more traffic"},
                   format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    reused = c.post("/api/v1/quota-requests/", {"namespace": dev_namespace.pk, "quota": QUOTA | {"pods": "60"}, "reason": "x"},
                    format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert reused.status_code == 422 and reused.json()["field"] == "quota"
    assert Request.objects.filter(kind="quota").count() == 1
    # Dev namespace quota unchanged until someone decides.
    assert Namespace.objects.get(pk=dev_namespace.pk).quota == QUOTA


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"quota": QUOTA}, "quota", "this is the namespace's quota already"),
    ({"quota": {"requests.cpu": "2 cores"}}, "quota", "requests.cpu:"),
    ({"quota": {"requests.cpu": "4", "limits.cpu": "2"}}, "quota", "limits.cpu: must be at least requests.cpu"),
    ({"quota": None, "tier": "huge"}, "tier", 'unknown tier "huge"; one of: small, medium, large'),
    ({"quota": BIGGER, "tier": "large"}, "tier", "either a tier or quota values"),
    ({"quota": None}, "quota", "send the new quota values"),
    ({"quota": BIGGER, "reason": "x" * 501}, "reason", "at most 500 characters"),
    ({"quota": BIGGER, "colour": "red"}, "colour", "unknown field"),
])
def test_bad_quota_change_is_a_400_on_the_field_and_creates_nothing(api_client_for, member, dev_namespace, body, field, message):
    payload = {"namespace": dev_namespace.pk, "reason": "r", **body}
    response = api_client_for(member).post("/api/v1/quota-requests/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert message in str(response.json()[field])
    assert not Request.objects.filter(kind="quota").exists()


def test_a_second_open_change_for_the_same_namespace_is_refused(api_client_for, member, dev_namespace):
    c = api_client_for(member)
    first = submit(c, dev_namespace)
    second = submit(c, dev_namespace, quota=QUOTA | {"pods": "60"})
    assert second.status_code == 400
    assert f"already has an open quota change (request #{first.json()['id']})" in second.json()["namespace"][0]


def test_outsiders_and_viewers_cannot_ask(api_client_for, outsider, viewer, dev_namespace):
    response = submit(api_client_for(outsider), dev_namespace)
    assert response.status_code == 400 and response.json()["namespace"] == ["no such namespace among your teams' namespaces"]
    response = submit(api_client_for(viewer), dev_namespace)
    assert response.status_code == 403 and "only members of team payments" in response.json()["detail"]
    assert not Request.objects.filter(kind="quota").exists()


def test_tier_brings_its_quota_and_container_defaults(api_client_for, member, dev_namespace):
    response = submit(api_client_for(member), dev_namespace, quota=None, tier="large")
    assert response.status_code == 201, response.json()
    req = Request.objects.get(pk=response.json()["id"])
    large = QuotaTier.objects.get(name="large")
    assert req.payload["quota"] == large.hard and req.payload["tier"] == "large"
    assert req.payload["limit_defaults"] == {"default": large.limit_default, "defaultRequest": large.limit_default_request}


# --- deciding ---------------------------------------------------------------------------------------------


def test_developer_cannot_approve_and_requester_cannot_approve_own(api_client_for, member, manager, viewer, dev_namespace):
    req_id = submit(api_client_for(member), dev_namespace).json()["id"]
    assert api_client_for(member).post(f"/api/v1/quota-requests/{req_id}/approve/", {}, format="json").status_code == 403
    assert api_client_for(viewer).post(f"/api/v1/quota-requests/{req_id}/approve/", {}, format="json").status_code == 403
    # And through the across-kinds endpoint as well.
    assert api_client_for(member).post(f"/api/v1/requests/{req_id}/approve/", {}, format="json").status_code == 403
    assert Request.objects.get(pk=req_id).state == "submitted"
    assert Namespace.objects.get(pk=dev_namespace.pk).quota == QUOTA


def test_outsider_gets_404_on_every_quota_request_endpoint(api_client_for, member, outsider, dev_namespace):
    req_id = submit(api_client_for(member), dev_namespace).json()["id"]
    c = api_client_for(outsider)
    assert c.get(f"/api/v1/quota-requests/{req_id}/").status_code == 404
    assert c.get(f"/api/v1/requests/{req_id}/").status_code == 404
    for verb in ("approve", "reject"):
        assert c.post(f"/api/v1/quota-requests/{req_id}/{verb}/", {}, format="json").status_code == 404
        assert c.post(f"/api/v1/requests/{req_id}/{verb}/", {}, format="json").status_code == 404
    assert c.get("/api/v1/quota-requests/").json()["results"] == []
    assert Request.objects.get(pk=req_id).state == "submitted"


def test_approval_changes_the_quota_in_the_decisions_transaction_and_is_audited(api_client_for, member, manager, dev_namespace):
    req_id = submit(api_client_for(member), dev_namespace).json()["id"]
    response = api_client_for(manager).post(f"/api/v1/requests/{req_id}/approve/", {"reason": "traffic is real"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "applying" and response.json()["kind"] == "quota"
    dev_namespace.refresh_from_db()
    assert dev_namespace.quota == BIGGER
    change = AuditEvent.objects.get(action="namespace.quota_change")
    assert change.before["quota"] == QUOTA and change.after["quota"] == BIGGER and change.actor == manager
    assert list(AuditEvent.objects.filter(target_type="approvals.request", target_id=str(req_id))
                .order_by("pk").values_list("action", flat=True)) == ["request.submit", "request.approve", "request.applying"]


def test_rejection_leaves_the_quota_alone(api_client_for, member, manager, dev_namespace):
    req_id = submit(api_client_for(member), dev_namespace).json()["id"]
    response = api_client_for(manager).post(f"/api/v1/quota-requests/{req_id}/reject/", {"reason": "use less"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "rejected"
    assert Namespace.objects.get(pk=dev_namespace.pk).quota == QUOTA


def test_requests_endpoint_lists_every_kind_with_filters_and_a_timeline(api_client_for, member, manager, dev_namespace):
    req_id = submit(api_client_for(member), dev_namespace).json()["id"]
    from tests.pages import make_request

    ns_req = make_request(dev_namespace.team, member, dev_namespace.cluster, "payments-other")
    c = api_client_for(manager)
    kinds = {r["id"]: r["kind"] for r in c.get("/api/v1/requests/").json()["results"]}
    assert kinds == {req_id: "quota", ns_req.pk: "namespace"}
    assert [r["id"] for r in c.get("/api/v1/requests/?kind=quota").json()["results"]] == [req_id]
    assert c.get("/api/v1/requests/?kind=quota&state=done").json()["results"] == []
    assert c.get("/api/v1/requests/").json()["results"][0]["timeline"] is None  # lists stay one query per page
    one = c.get(f"/api/v1/requests/{req_id}/").json()
    assert [s["title"] for s in one["timeline"]] == ["Submitted by alice", "Waiting for a manager's decision"]
    assert one["payload"]["quota"] == BIGGER
    assert c.get("/api/v1/requests/?kind=bogus").status_code == 400


# --- on the pages -------------------------------------------------------------------------------------------


def test_change_quota_page_submits_and_flags_values_below_usage_to_the_approver(client_for, member, manager, dev_namespace):
    Namespace.objects.filter(pk=dev_namespace.pk).update(quota_used={"requests.cpu": "1500m", "pods": "30"},
                                                         quota_observed_at=timezone.now())
    c = client_for(member)
    page = c.get(reverse("namespaces:detail", args=[dev_namespace.pk])).content.decode()
    assert reverse("quotas:change", args=[dev_namespace.pk]) in page
    form = c.get(reverse("quotas:change", args=[dev_namespace.pk])).content.decode()
    assert 'value="4Gi"' in form  # starts from the current quota
    data = {f"quota_{r.replace('.', '_')}": v for r, v in QUOTA.items()} | {"quota_requests_cpu": "1", "quota_pods": "20",
                                                                           "reason": "shrink", "tier": ""}
    response = c.post(reverse("quotas:change", args=[dev_namespace.pk]), data)
    assert response.status_code == 302
    req = Request.objects.get(kind="quota")
    assert response["Location"] == reverse("approvals:detail", args=[req.pk])
    assert req.payload["quota"]["requests.cpu"] == "1"
    detail = client_for(manager).get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert detail.count("below current use") == 2  # requests.cpu 1 < 1500m, pods 20 < 30
    queue = client_for(manager).get(reverse("approvals:queue")).content.decode()
    assert "below current use" in queue and "payments-dev" in queue


def test_change_quota_page_shows_field_errors_and_refuses_viewers_and_outsiders(client_for, member, viewer, outsider, dev_namespace):
    data = {f"quota_{r.replace('.', '_')}": v for r, v in QUOTA.items()} | {"quota_pods": "lots", "reason": "", "tier": ""}
    response = client_for(member).post(reverse("quotas:change", args=[dev_namespace.pk]), data)
    assert response.status_code == 200 and "pods" in response.content.decode() and "lots" in response.content.decode()
    assert client_for(viewer).get(reverse("quotas:change", args=[dev_namespace.pk])).status_code == 403
    assert client_for(outsider).get(reverse("quotas:change", args=[dev_namespace.pk])).status_code == 404
    assert client_for(outsider).post(reverse("quotas:change", args=[dev_namespace.pk]), data).status_code == 404
    assert not Request.objects.filter(kind="quota").exists()


# --- against a cluster: the live diff and the apply --------------------------------------------------------------


@pytest.fixture
def live_namespace(kubesim_cluster, team, member):
    """payments-live, Ready on kubesim with the portal's bundle applied."""
    _, cluster = kubesim_cluster
    namespace = Namespace.objects.create(team=team, cluster=cluster, name="payments-live", owner=member, quota=dict(QUOTA))
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    return namespace


def test_hand_edited_live_quota_shows_in_the_diff_and_approval_puts_the_new_values_on_the_cluster(
        kubesim_cluster, live_namespace, api_client_for, client_for, member, manager):
    handle, _ = kubesim_cluster
    api = official_client(handle.admin_kubeconfig)
    core = k8s.CoreV1Api(api)
    # Someone edits the quota on the cluster by hand.
    core.patch_namespaced_resource_quota("team-quota", "payments-live", {"spec": {"hard": {"pods": "7"}}})

    req_id = submit(api_client_for(member), live_namespace).json()["id"]
    detail = client_for(manager).get(reverse("approvals:detail", args=[req_id])).content.decode()
    assert "Live objects on the cluster against what approving applies" in detail
    assert "-  pods: &#x27;7&#x27;" in detail or "-  pods: '7'" in detail  # the hand edit, as live
    assert "+  pods: &#x27;50&#x27;" in detail or "+  pods: '50'" in detail
    assert "+  requests.cpu: &#x27;3&#x27;" in detail or "+  requests.cpu: '3'" in detail

    assert api_client_for(manager).post(f"/api/v1/quota-requests/{req_id}/approve/", {}, format="json").status_code == 200
    assert namespace_reconcile(live_namespace.pk).outcome == "applied"
    hard = core.read_namespaced_resource_quota("team-quota", "payments-live").spec.hard
    assert hard["requests.cpu"] == "3" and hard["limits.cpu"] == "6" and hard["pods"] == "50"
    req = Request.objects.get(pk=req_id)
    assert req.state == "done" and req.finished_at is not None


def test_tier_change_puts_the_tiers_container_defaults_on_the_cluster(kubesim_cluster, live_namespace, api_client_for, member, manager):
    handle, _ = kubesim_cluster
    req_id = submit(api_client_for(member), live_namespace, quota=None, tier="large").json()["id"]
    assert api_client_for(manager).post(f"/api/v1/quota-requests/{req_id}/approve/", {}, format="json").status_code == 200
    assert namespace_reconcile(live_namespace.pk).outcome == "applied"
    limits = k8s.CoreV1Api(official_client(handle.admin_kubeconfig)).read_namespaced_limit_range(
        "container-defaults", "payments-live").spec.limits[0]
    assert limits.default == {"cpu": "1", "memory": "1Gi"} and limits.default_request == {"cpu": "250m", "memory": "512Mi"}


# --- auto-approval ----------------------------------------------------------------------------------------------


BCGOV = dict(name="bcgov: +50% when busy", order=10, kind=ApprovalRule.Kind.QUOTA, max_increase_percent=50,
             min_utilisation={"requests.cpu": 35, "requests.memory": 35}, window_days=14)


def used(namespace, age: timedelta, **values) -> None:
    """A usage sample as the usage sync records it (numbers in base units)."""
    UsageSample.objects.create(namespace=namespace, taken_at=timezone.now() - age, used=values, hard={})


def test_busy_namespace_gets_a_modest_increase_approved_by_the_rule(api_client_for, member, dev_namespace):
    ApprovalRule.objects.create(**BCGOV)
    used(dev_namespace, timedelta(hours=2), **{"requests.cpu": 0.8, "requests.memory": 2.0 * 2**30})
    used(dev_namespace, timedelta(hours=1), **{"requests.cpu": 0.2, "requests.memory": 1.0 * 2**30})  # the peak counts
    response = submit(api_client_for(member), dev_namespace)  # cpu 2 -> 3 (+50 %), memory unchanged
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "applying" and body["decided_by_rule"] == BCGOV["name"] and body["decider"] is None
    assert Namespace.objects.get(pk=dev_namespace.pk).quota == BIGGER
    approve = AuditEvent.objects.get(action="request.approve")
    assert approve.actor is None and approve.message == f"approved by rule {BCGOV['name']}"
    one = api_client_for(member).get(f"/api/v1/requests/{body['id']}/").json()
    assert one["timeline"][1]["title"] == f"Approved by rule {BCGOV['name']}"


@pytest.mark.parametrize(("values", "quota", "why"), [
    ({"requests.cpu": 0.5, "requests.memory": 2.0 * 2**30}, BIGGER, "cpu 25 % used, under 35 %"),
    ({"requests.cpu": 0.8, "requests.memory": 2.0 * 2**30}, {**QUOTA, "requests.cpu": "4", "limits.cpu": "8"}, "+100 %"),
    ({"requests.cpu": 0.8}, BIGGER, "memory never observed"),
])
def test_rule_does_not_match_so_a_manager_decides(api_client_for, member, dev_namespace, values, quota, why):
    ApprovalRule.objects.create(**BCGOV)
    used(dev_namespace, timedelta(minutes=5), **values)
    body = submit(api_client_for(member), dev_namespace, quota=quota).json()
    assert body["state"] == "submitted" and body["decided_by_rule"] == "", why


def test_stale_usage_never_auto_approves(api_client_for, member, dev_namespace):
    ApprovalRule.objects.create(**BCGOV)
    used(dev_namespace, timedelta(days=20), **{"requests.cpu": 2.0, "requests.memory": 4.0 * 2**30})
    assert submit(api_client_for(member), dev_namespace).json()["state"] == "submitted"


def test_rule_approval_still_goes_through_the_budget(api_client_for, member, dev_namespace):
    ApprovalRule.objects.create(name="anything small", order=1, kind=ApprovalRule.Kind.QUOTA, max_increase_percent=100)
    TeamBudget.objects.create(team=dev_namespace.team, cluster=dev_namespace.cluster, hard={"requests.cpu": "2500m"})
    response = submit(api_client_for(member), dev_namespace)
    assert response.status_code == 400
    assert response.json()["quota"] == ["over the team's budget: requests.cpu: 0 already allocated on dev + 3 requested = 3, "
                                        "over the team's budget of 2500m by 500m"]
    assert Namespace.objects.get(pk=dev_namespace.pk).quota == QUOTA


def test_disabled_and_later_rules_do_not_decide(api_client_for, member, dev_namespace):
    ApprovalRule.objects.create(name="off", order=1, enabled=False)
    ApprovalRule.objects.create(name="only search", order=2, team=dev_namespace.team.__class__.objects.create(slug="search", name="S"))
    body = submit(api_client_for(member), dev_namespace).json()
    assert body["state"] == "submitted"
    ApprovalRule.objects.create(name="payments anything", order=3)
    Request.objects.filter(pk=body["id"]).update(state="cancelled")
    assert quota_request_submit(actor=member, namespace=dev_namespace, quota=BIGGER).decided_by_rule == "payments anything"
