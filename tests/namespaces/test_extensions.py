"""Lifetime extensions: ask (page and ``POST /api/v1/namespaces/{id}/extend/``), decide in the usual
workflow (``/api/v1/requests/{id}/approve/`` and the queue), auto-approval rules, and the new expiry
reaching the cluster's ``expires-at`` annotation on kubesim.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.audit.actions import Action
from apps.audit.models import AuditEvent
from apps.namespaces import tasks as ns_tasks
from apps.namespaces.extensions import extension_request_submit
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_reconcile, namespace_request_submit
from apps.quotas.models import ApprovalRule
from tests.conftest import official_client
from tests.pages import make_cluster, make_namespace

pytestmark = pytest.mark.django_db

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    """The tests run the reconcile themselves, synchronously."""
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)


@pytest.fixture
def expiring(team, member):
    """A namespace (plain row) of ``team`` that expires in 20 hours."""
    return make_namespace(team, make_cluster("dev"), "payments-dev", owner=member,
                          expires_at=timezone.now() + timedelta(hours=20))


def extend(client, namespace, **body):
    return client.post(f"/api/v1/namespaces/{namespace.pk}/extend/", {"ttl_hours": 72, "reason": "demo on friday", **body},
                       format="json")


# --- asking ------------------------------------------------------------------------------------------


def test_member_asks_over_the_api_and_gets_the_created_request(api_client_for, member, expiring):
    response = extend(api_client_for(member), expiring)
    assert response.status_code == 201, response.json()
    body = response.json()
    request = Request.objects.get(pk=body["id"])
    assert (request.kind, request.state, request.namespace_id) == (Request.Kind.EXTENSION, Request.State.SUBMITTED, expiring.pk)
    assert body["kind"] == "extension" and body["state"] == "submitted"
    assert body["namespace"] == expiring.pk and body["name"] == "payments-dev" and body["ttl_hours"] == 72
    assert body["request_reason"] == "demo on friday" and body["expires_at"] is None
    assert datetime.fromisoformat(body["previous_expires_at"]) == expiring.expires_at
    assert response["Location"].endswith(f"/api/v1/requests/{request.pk}/")
    # Nothing changes before a decision.
    expiring.refresh_from_db()
    assert expiring.expires_at < timezone.now() + timedelta(hours=21)


def test_idempotency_key_replays_the_same_request(api_client_for, member, expiring):
    client = api_client_for(member)
    first = client.post(f"/api/v1/namespaces/{expiring.pk}/extend/", {"ttl_hours": 72}, format="json", HTTP_IDEMPOTENCY_KEY="x-1")
    again = client.post(f"/api/v1/namespaces/{expiring.pk}/extend/", {"ttl_hours": 72}, format="json", HTTP_IDEMPOTENCY_KEY="x-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Request.objects.filter(kind=Request.Kind.EXTENSION).count() == 1


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"ttl_hours": 0}, "ttl_hours", "at least 1"),
    ({"ttl_hours": "72"}, "ttl_hours", "integer"),
    ({"ttl_hours": 24 * 91}, "ttl_hours", "NAMESPACE_MAX_TTL_HOURS"),
    ({"ttl_hours": 10}, "ttl_hours", "already lives until"),
    ({"ttl_hours": 72, "reason": "x" * 501}, "reason", "500"),
    ({"reason": "no hours"}, "ttl_hours", "required"),
    ({"ttl_hours": 72, "extra": 1}, "extra", "nknown"),
])
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api_client_for, member, expiring, body, field, words):
    response = api_client_for(member).post(f"/api/v1/namespaces/{expiring.pk}/extend/", body, format="json")
    assert response.status_code == 400, response.json()
    assert words.lower() in str(response.json()[field]).lower()
    assert not Request.objects.filter(kind=Request.Kind.EXTENSION).exists()


@pytest.mark.parametrize(("change", "words"), [
    ({"expires_at": None}, "has no expiry"),
    ({"protected": True}, "protected"),
    ({"phase": Namespace.Phase.TERMINATING}, "being deleted"),
])
def test_namespaces_that_cannot_be_extended_say_why(api_client_for, member, expiring, change, words):
    Namespace.objects.filter(pk=expiring.pk).update(**change)
    response = extend(api_client_for(member), expiring)
    assert response.status_code == 400
    assert words in str(response.json()["namespace"])
    assert not Request.objects.filter(kind=Request.Kind.EXTENSION).exists()


def test_one_open_extension_per_namespace(api_client_for, member, expiring):
    client = api_client_for(member)
    first = extend(client, expiring)
    second = extend(client, expiring, ttl_hours=96)
    assert second.status_code == 400
    assert f"request #{first.json()['id']}" in str(second.json()["namespace"])


def test_outsiders_get_404_and_viewers_403(api_client_for, outsider, viewer, expiring):
    assert extend(api_client_for(outsider), expiring).status_code == 404
    response = extend(api_client_for(viewer), expiring)
    assert response.status_code == 403
    assert "only members" in response.json()["detail"]
    assert not Request.objects.filter(kind=Request.Kind.EXTENSION).exists()


def test_anonymous_is_401(client, expiring):
    assert client.post(f"/api/v1/namespaces/{expiring.pk}/extend/", {"ttl_hours": 72},
                       content_type="application/json").status_code in (401, 403)


# --- deciding ------------------------------------------------------------------------------------------


def test_manager_approves_over_the_generic_endpoint_and_the_expiry_moves(api_client_for, member, manager, expiring):
    created = extend(api_client_for(member), expiring).json()
    before = timezone.now()
    response = api_client_for(manager).post(f"/api/v1/requests/{created['id']}/approve/", {"reason": "ok"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "applying"
    expiring.refresh_from_db()
    assert before + timedelta(hours=72) <= expiring.expires_at <= timezone.now() + timedelta(hours=72)
    event = AuditEvent.objects.get(action=Action.NAMESPACE_EXTEND)
    assert event.actor == manager and event.after["expires_at"] == expiring.expires_at.isoformat()
    request = Request.objects.get(pk=created["id"])
    assert request.payload["expires_at"] == expiring.expires_at.isoformat()


def test_the_requester_cannot_approve_their_own_extension(api_client_for, manager, expiring):
    created = extend(api_client_for(manager), expiring).json()
    response = api_client_for(manager).post(f"/api/v1/requests/{created['id']}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]


def test_approving_after_the_namespace_was_protected_is_refused_and_changes_nothing(api_client_for, member, manager, expiring):
    created = extend(api_client_for(member), expiring).json()
    Namespace.objects.filter(pk=expiring.pk).update(protected=True)
    response = api_client_for(manager).post(f"/api/v1/requests/{created['id']}/approve/", {}, format="json")
    assert response.status_code == 409
    assert "protected" in response.json()["detail"]
    assert Request.objects.get(pk=created["id"]).state == Request.State.SUBMITTED
    assert not AuditEvent.objects.filter(action=Action.NAMESPACE_EXTEND).exists()


def test_a_rule_for_short_extensions_approves_at_once_and_longer_ones_wait(member, team, expiring):
    ApprovalRule.objects.create(name="short extensions", kind=ApprovalRule.Kind.EXTENSION, max_ttl_hours=48)
    short = extension_request_submit(actor=member, namespace=expiring, ttl_hours=48)
    assert short.state == Request.State.APPLYING and short.decided_by_rule == "short extensions"
    expiring.refresh_from_db()
    long = extension_request_submit(actor=member, namespace=expiring, ttl_hours=24 * 30)
    assert long.state == Request.State.SUBMITTED and not long.decided_by_rule


def test_quota_rules_never_approve_an_extension_and_extension_rules_never_approve_a_namespace(member, team, expiring):
    ApprovalRule.objects.create(name="any small", max_increase_percent=50)
    assert extension_request_submit(actor=member, namespace=expiring, ttl_hours=72).state == Request.State.SUBMITTED
    ApprovalRule.objects.create(name="any extension", max_ttl_hours=1000, order=1)
    request = namespace_request_submit(actor=member, team=team, cluster=expiring.cluster, name="other-dev", quota=dict(QUOTA))
    assert request.state == Request.State.SUBMITTED


# --- pages ------------------------------------------------------------------------------------------------


def test_extend_page_asks_and_lands_on_the_request(client_for, member, expiring):
    client = client_for(member)
    detail = client.get(reverse("namespaces:detail", args=[expiring.pk])).content.decode()
    assert reverse("namespaces:extend", args=[expiring.pk]) in detail
    page = client.get(reverse("namespaces:extend", args=[expiring.pk]))
    assert page.status_code == 200 and "Ask for more time" in page.content.decode()
    response = client.post(reverse("namespaces:extend", args=[expiring.pk]), {"ttl_hours": "100", "reason": "launch"})
    request = Request.objects.get(kind=Request.Kind.EXTENSION)
    assert response.status_code == 302 and response["Location"] == reverse("approvals:detail", args=[request.pk])
    shown = client.get(response["Location"]).content.decode()
    assert "100 h" in shown and "launch" in shown


def test_extend_page_shows_errors_and_creates_nothing(client_for, member, expiring):
    response = client_for(member).post(reverse("namespaces:extend", args=[expiring.pk]), {"ttl_hours": "5"})
    assert response.status_code == 200
    assert "already lives until" in response.content.decode()
    assert not Request.objects.filter(kind=Request.Kind.EXTENSION).exists()


def test_extend_page_for_a_namespace_without_ttl_explains_and_has_no_form(client_for, member, expiring):
    Namespace.objects.filter(pk=expiring.pk).update(expires_at=None)
    client = client_for(member)
    assert reverse("namespaces:extend", args=[expiring.pk]) not in client.get(reverse("namespaces:detail", args=[expiring.pk])).content.decode()
    page = client.get(reverse("namespaces:extend", args=[expiring.pk])).content.decode()
    assert "has no expiry" in page and "Ask for more time" not in page
    client.post(reverse("namespaces:extend", args=[expiring.pk]), {"ttl_hours": "100"})
    assert not Request.objects.filter(kind=Request.Kind.EXTENSION).exists()


def test_extend_page_outsider_404_viewer_403(client_for, outsider, viewer, expiring):
    url = reverse("namespaces:extend", args=[expiring.pk])
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(url).status_code == 403
    assert client_for(viewer).post(url, {"ttl_hours": "100"}).status_code == 403


def test_queue_shows_the_extension_to_the_manager(client_for, member, manager, expiring):
    extension_request_submit(actor=member, namespace=expiring, ttl_hours=96, reason="launch week")
    page = client_for(manager).get(reverse("approvals:queue")).content.decode()
    assert "96 h" in page and "launch week" in page and "payments-dev" in page


# --- end to end on kubesim -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_extension_end_to_end_moves_the_annotation_on_the_cluster(kubesim_cluster, member, manager, team, api_client_for):
    handle, cluster = kubesim_cluster
    request = namespace_request_submit(actor=member, team=team, cluster=cluster, name="short-lived", quota=dict(QUOTA), ttl_hours=10)
    namespace = api_client_for(manager).post(f"/api/v1/requests/{request.pk}/approve/", {}, format="json")
    namespace = Namespace.objects.get(name="short-lived")
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    created = extend(api_client_for(member), namespace, ttl_hours=200).json()
    assert api_client_for(manager).post(f"/api/v1/requests/{created['id']}/approve/", {}, format="json").status_code == 200
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    namespace.refresh_from_db()
    assert Request.objects.get(pk=created["id"]).state == Request.State.DONE
    with official_client(handle.admin_kubeconfig) as api:
        live = k8s.CoreV1Api(api).read_namespace("short-lived")
    annotation = next(v for k, v in live.metadata.annotations.items() if k.endswith("/expires-at"))
    assert datetime.fromisoformat(annotation.replace("Z", "+00:00")) == namespace.expires_at.replace(microsecond=0)
    timeline = api_client_for(member).get(f"/api/v1/requests/{created['id']}/").json()["timeline"]
    assert [step["title"].split(" to ")[0] for step in timeline][-2:] == ["Expiry moved", "Applied"]
