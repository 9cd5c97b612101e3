"""``/api/v1/membership-requests/`` and ``/api/v1/kubeconfigs/`` with outsider, member, manager and admin."""

import pytest

from apps.approvals.models import Request
from apps.onboarding.models import IssuedCertificate
from apps.teams.models import Membership
from tests.conftest import make_user
from tests.onboarding.conftest import kubeconfig_parts, make_csr

pytestmark = pytest.mark.django_db

MR = "/api/v1/membership-requests/"
KC = "/api/v1/kubeconfigs/"


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from apps.namespaces import tasks as ns_tasks
    from apps.onboarding import tasks as onb_tasks

    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a: None)
    monkeypatch.setattr(onb_tasks.confirm_access, "delay", lambda *a: None)


@pytest.fixture
def newbie(db):
    return make_user("newbie")


def test_join_request_create_list_get(api_client_for, newbie, team):
    api = api_client_for(newbie)
    r = api.post(MR, {"team": "payments", "role": "viewer", "note": "hello"}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["kind"] == "membership" and body["role"] == "viewer" and body["note"] == "hello" and body["team"] == "payments"
    assert r["Location"].endswith(f"{MR}{body['id']}/")
    assert [x["id"] for x in api.get(MR).json()["results"]] == [body["id"]]
    assert api.get(f"{MR}{body['id']}/").json()["state"] == "submitted"


def test_join_request_bad_input(api_client_for, newbie, team, member):
    api = api_client_for(newbie)
    assert api.post(MR, {"team": "nope"}, format="json").json() == {"team": ['no team "nope"']}
    assert "role" in api.post(MR, {"team": "payments", "role": "manager"}, format="json").json()
    assert api.post(MR, {"team": "payments", "colour": "red"}, format="json").json() == {"colour": ["unknown field"]}
    r = api_client_for(member).post(MR, {"team": "payments"}, format="json")
    assert r.status_code == 400 and "already in team" in r.json()["team"][0]


def test_join_request_idempotency_key(api_client_for, newbie, team):
    api = api_client_for(newbie)
    first = api.post(MR, {"team": "payments"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(MR, {"team": "payments"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201 and again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_outsider_sees_404_and_manager_approves(api_client_for, newbie, team, manager, outsider, member, admin_user):
    rid = api_client_for(newbie).post(MR, {"team": "payments"}, format="json").json()["id"]
    outsider_api = api_client_for(outsider)
    assert outsider_api.get(f"{MR}{rid}/").status_code == 404
    assert outsider_api.post(f"{MR}{rid}/approve/", {}, format="json").status_code == 404
    assert rid not in [x["id"] for x in outsider_api.get(MR).json()["results"]]
    # A plain member sees the team's request but may not decide it.
    r = api_client_for(member).post(f"{MR}{rid}/approve/", {}, format="json")
    assert r.status_code == 403
    # The requester sees it but cannot decide it.
    assert api_client_for(newbie).post(f"{MR}{rid}/approve/", {}, format="json").status_code == 403
    r = api_client_for(manager).post(f"{MR}{rid}/approve/", {"reason": "welcome"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "applying" and r.json()["decider"] == "bob"
    assert Membership.objects.get(user=newbie, team=team).role == "member"
    # Decided once.
    assert api_client_for(admin_user).post(f"{MR}{rid}/reject/", {}, format="json").status_code == 409


def test_reject_with_reason(api_client_for, newbie, team, manager):
    rid = api_client_for(newbie).post(MR, {"team": "payments"}, format="json").json()["id"]
    r = api_client_for(manager).post(f"{MR}{rid}/reject/", {"reason": "wrong team"}, format="json")
    assert r.json()["state"] == "rejected" and r.json()["reason"] == "wrong team"
    assert not Membership.objects.filter(user=newbie).exists()


def test_namespace_request_endpoint_does_not_show_join_requests(api_client_for, newbie, team):
    rid = api_client_for(newbie).post(MR, {"team": "payments"}, format="json").json()["id"]
    assert api_client_for(newbie).get(f"/api/v1/namespace-requests/{rid}/").status_code == 404


def test_membership_request_list_query_count_is_flat(api_client_for, team, manager, django_assert_max_num_queries):
    api = api_client_for(manager)
    for i in range(15):
        Request.objects.create(kind="membership", team=team, requester=make_user(f"n{i}"), payload={"role": "member"})
    with django_assert_max_num_queries(8):
        r = api.get(MR)
    assert r.json()["count"] == 15


# --- kubeconfigs ------------------------------------------------------------------------


def test_member_gets_kubeconfig_with_portal_key(api_client_for, member, fake_cluster, team_namespace):
    r = api_client_for(member).post(KC, {"cluster": "demo", "namespace": "payments-dev", "reason": "ci"}, format="json")
    assert r.status_code == 201, r.json()
    assert r["Cache-Control"] == "no-store"
    body = r.json()
    parts = kubeconfig_parts(body["kubeconfig"])
    assert body["includes_key"] and parts["key"] and parts["namespace"] == "payments-dev"
    assert body["subject"] == "CN=portal:alice" and body["key_mode"] == "portal" and body["namespace"] == "payments-dev"
    listed = api_client_for(member).get(KC).json()["results"]
    assert [c["id"] for c in listed] == [body["id"]] and "kubeconfig" not in listed[0]


def test_member_with_csr_gets_certificate_only(api_client_for, member, fake_cluster):
    r = api_client_for(member).post(KC, {"cluster": "demo", "csr": make_csr("portal:alice").decode()}, format="json")
    assert r.status_code == 201 and r.json()["includes_key"] is False
    assert kubeconfig_parts(r.json()["kubeconfig"])["key"] is None


@pytest.mark.parametrize("kwargs,rule", [
    ({"cn": "portal:bob"}, "cn:"),
    ({"orgs": ["system:masters"]}, "organisation:"),
    ({"orgs": ["devs"]}, "organisation:"),
])
def test_bad_csr_is_400_naming_the_rule(api_client_for, member, fake_cluster, signer, kwargs, rule):
    csr = make_csr(kwargs.pop("cn", "portal:alice"), **kwargs).decode()
    r = api_client_for(member).post(KC, {"cluster": "demo", "csr": csr}, format="json")
    assert r.status_code == 400 and r.json()["csr"][0].startswith(rule)
    assert signer.calls == []


def test_bad_pem_and_small_key_are_400(api_client_for, member, fake_cluster, signer):
    from cryptography.hazmat.primitives.asymmetric import rsa

    api = api_client_for(member)
    assert api.post(KC, {"cluster": "demo", "csr": "not a csr"}, format="json").json()["csr"][0].startswith("pem:")
    small = make_csr("portal:alice", key=rsa.generate_private_key(65537, 1024)).decode()
    assert api.post(KC, {"cluster": "demo", "csr": small}, format="json").json()["csr"][0].startswith("key:")
    assert api.post(KC, {"cluster": "demo", "expiration_seconds": "3600"}, format="json").status_code == 400
    assert signer.calls == []


def test_a_namespace_without_access_is_403_naming_the_ones_you_can(api_client_for, member, fake_cluster, team_namespace,
                                                                     other_namespace, signer):
    api = api_client_for(member)
    answers = [api.post(KC, {"cluster": "demo", "namespace": name}, format="json") for name in ("search-dev", "kube-system")]

    for r in answers:
        assert r.status_code == 403
        assert "namespaces you can: payments-dev" in r.json()["detail"]
    # The same words whether the namespace exists (another team's) or not: nothing is revealed.
    assert answers[0].json()["detail"].replace("search-dev", "X") == answers[1].json()["detail"].replace("kube-system", "X")
    assert "search-dev" not in answers[1].json()["detail"]
    assert signer.calls == []
    assert api.post(KC, {"cluster": "nope"}, format="json").status_code == 404


def test_user_without_team_is_403(api_client_for, fake_cluster, team_namespace, signer):
    loner = make_user("loner")
    api = api_client_for(loner)
    refused = api.post(KC, {"cluster": "demo", "namespace": "payments-dev"}, format="json")
    assert refused.status_code == 403 and "you have none there yet" in refused.json()["detail"]
    r = api.post(KC, {"cluster": "demo"}, format="json")
    assert r.status_code == 403 and "join a team" in r.json()["detail"]
    assert signer.calls == []


def test_cluster_timeout_is_504_and_denied_is_502(api_client_for, member, fake_cluster, signer):
    api = api_client_for(member)
    signer.mode = "hang"
    r = api.post(KC, {"cluster": "demo"}, format="json")
    assert r.status_code == 504 and "did not sign" in r.json()["detail"]
    signer.mode = "deny"
    r = api.post(KC, {"cluster": "demo"}, format="json")
    assert r.status_code == 502 and "denied" in r.json()["detail"]
    assert not IssuedCertificate.objects.exists() and signer.csrs == {}


def test_certificates_visibility(api_client_for, member, manager, admin_user, outsider, fake_cluster):
    cid = api_client_for(member).post(KC, {"cluster": "demo"}, format="json").json()["id"]
    assert api_client_for(outsider).get(f"{KC}{cid}/").status_code == 404
    assert api_client_for(manager).get(f"{KC}{cid}/").status_code == 404
    assert api_client_for(admin_user).get(f"{KC}{cid}/").json()["user"] == "alice"


def test_renewal_links_the_old_certificate(api_client_for, member, fake_cluster, outsider, admin_user):
    api = api_client_for(member)
    old = api.post(KC, {"cluster": "demo"}, format="json").json()["id"]
    new = api.post(KC, {"cluster": "demo", "renews": old}, format="json").json()
    assert new["renews"] == old
    # Nobody renews someone else's certificate.
    assert api_client_for(outsider).post(KC, {"cluster": "demo", "renews": old}, format="json").status_code == 404
    assert api_client_for(admin_user).post(KC, {"cluster": "demo", "renews": old}, format="json").status_code == 404


def test_unauthenticated_is_401(client, fake_cluster):
    from rest_framework.test import APIClient

    assert APIClient().post(KC, {"cluster": "demo"}, format="json").status_code in (401, 403)


def test_membership_key_reused_with_another_role_is_422_naming_it(api_client_for, team):
    api = api_client_for(make_user("joiner"))
    first = api.post(MR, {"team": "payments"}, format="json", HTTP_IDEMPOTENCY_KEY="j1")

    other = api.post(MR, {"team": "payments", "role": "viewer"}, format="json", HTTP_IDEMPOTENCY_KEY="j1")

    assert first.status_code == 201
    assert other.status_code == 422 and other.json()["field"] == "role"
