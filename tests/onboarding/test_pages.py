"""Onboarding pages with outsider, member, manager and admin: join, kubeconfig, credentials, inventory, KPI."""

import pytest
from django.urls import reverse

from apps.approvals.models import Request
from apps.onboarding.models import Onboarding
from tests.conftest import make_user
from tests.onboarding.conftest import kubeconfig_parts, make_csr

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from apps.namespaces import tasks as ns_tasks
    from apps.onboarding import tasks as onb_tasks

    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a: None)
    monkeypatch.setattr(onb_tasks.confirm_access, "delay", lambda *a: None)


def test_anonymous_is_sent_to_login(client):
    for name in ("join", "kubeconfig", "credentials", "certificates", "kpi"):
        r = client.get(reverse(f"onboarding:{name}"))
        assert r.status_code == 302 and "/login" in r["Location"]


def test_newcomer_sees_every_team_and_asks_to_join(client_for, team, other_team):
    newbie = make_user("newbie")
    c = client_for(newbie)
    page = c.get(reverse("onboarding:join")).content.decode()
    assert "Ask to join payments" in page and "Ask to join search" in page
    r = c.post(reverse("onboarding:join"), {"team": "payments", "role": "viewer", "note": "hi"})
    assert r.status_code == 302
    req = Request.objects.get(kind="membership", requester=newbie)
    assert req.payload == {"role": "viewer", "note": "hi"}
    page = c.get(reverse("onboarding:join")).content.decode()
    assert "Waiting for a manager" in page and f"#{req.pk} join Payments" in page


def test_join_bad_input_shows_errors(client_for, team, member):
    r = client_for(member).post(reverse("onboarding:join"), {"team": "payments", "role": "member"})
    assert r.status_code == 400 and "already in team payments" in r.content.decode()
    r = client_for(make_user("newbie")).post(reverse("onboarding:join"), {"team": "payments", "role": "manager"})
    assert r.status_code == 400 and "Select a valid choice" in r.content.decode()
    assert client_for(member).post(reverse("onboarding:join"), {"team": "nope", "role": "member"}).status_code == 404


def test_join_page_is_csrf_protected(team):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(make_user("newbie"))
    assert c.post(reverse("onboarding:join"), {"team": "payments", "role": "member"}).status_code == 403


def test_cancel_own_join_request_only(client_for, team, outsider):
    newbie = make_user("newbie")
    client_for(newbie).post(reverse("onboarding:join"), {"team": "payments", "role": "member"})
    req = Request.objects.get(requester=newbie)
    assert client_for(outsider).post(reverse("onboarding:cancel-join", args=[req.pk])).status_code == 404
    client_for(newbie).post(reverse("onboarding:cancel-join", args=[req.pk]))
    req.refresh_from_db()
    assert req.state == "cancelled"


def test_join_page_query_count_is_flat(client_for, team, django_assert_max_num_queries):
    from apps.teams.models import Team

    c = client_for(make_user("newbie"))
    c.get(reverse("onboarding:join"))
    for i in range(20):
        Team.objects.create(slug=f"t{i}", name=f"T{i}")
    with django_assert_max_num_queries(12):
        assert c.get(reverse("onboarding:join")).status_code == 200


def test_kubeconfig_page_lists_only_visible_namespaces(client_for, member, fake_cluster, team_namespace, other_namespace):
    page = client_for(member).get(reverse("onboarding:kubeconfig")).content.decode()
    assert "payments-dev" in page and "search-dev" not in page
    assert "portal:alice" in page and "js/keygen.js" in page
    assert "stay valid until" in page


def test_kubeconfig_download_with_portal_key(client_for, member, fake_cluster, team_namespace):
    r = client_for(member).post(reverse("onboarding:kubeconfig"), {
        "cluster": "demo", "namespace": "demo/payments-dev", "mode": "portal", "reason": "laptop"})
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment;")
    assert r["Cache-Control"].startswith("no-store") or "no-store" in r["Cache-Control"]
    parts = kubeconfig_parts(r.content.decode())
    assert parts["key"] and parts["namespace"] == "payments-dev"


def test_kubeconfig_pasted_csr_bad_rule_is_shown(client_for, member, fake_cluster, signer):
    r = client_for(member).post(reverse("onboarding:kubeconfig"), {
        "cluster": "demo", "mode": "csr", "csr": make_csr("portal:bob").decode()})
    assert r.status_code == 400 and "cn: the subject CN must be exactly" in r.content.decode()
    assert signer.calls == []


def test_kubeconfig_for_invisible_namespace_is_404(client_for, member, fake_cluster, other_namespace, signer):
    # The form only offers visible namespaces, so a forged value is a form error, never a certificate.
    r = client_for(member).post(reverse("onboarding:kubeconfig"), {
        "cluster": "demo", "namespace": "demo/search-dev", "mode": "portal"})
    assert r.status_code == 400 and signer.calls == []


def test_loner_is_told_to_join_first(client_for, fake_cluster, signer):
    c = client_for(make_user("loner"))
    assert "Ask to join a team" in c.get(reverse("onboarding:kubeconfig")).content.decode()
    r = c.post(reverse("onboarding:kubeconfig"), {"cluster": "demo", "mode": "portal"})
    assert r.status_code == 400 and "join a team first" in r.content.decode() and signer.calls == []


def test_credentials_show_own_certificates_and_renew(client_for, member, manager, fake_cluster, api_client_for):
    cid = api_client_for(member).post("/api/v1/kubeconfigs/", {"cluster": "demo"}, format="json").json()["id"]
    page = client_for(member).get(reverse("onboarding:credentials")).content.decode()
    assert f'data-certificate="{cid}"' in page and f"?renew={cid}" in page and "valid" in page
    assert f'data-certificate="{cid}"' not in client_for(manager).get(reverse("onboarding:credentials")).content.decode()
    page = client_for(member).get(reverse("onboarding:kubeconfig") + f"?renew={cid}").content.decode()
    assert f"Renewing certificate #{cid}" in page
    assert client_for(manager).get(reverse("onboarding:kubeconfig") + f"?renew={cid}").status_code == 404
    assert client_for(member).get(reverse("onboarding:kubeconfig") + "?renew=x").status_code == 404


def test_admin_inventory_and_kpi_are_admin_only(client_for, member, manager, outsider, admin_user, auditor, fake_cluster,
                                                api_client_for, django_assert_max_num_queries):
    api_client_for(member).post("/api/v1/kubeconfigs/", {"cluster": "demo"}, format="json")
    for user in (member, manager, outsider):
        assert client_for(user).get(reverse("onboarding:certificates")).status_code == 404
        assert client_for(user).get(reverse("onboarding:kpi")).status_code == 404
    c = client_for(admin_user)
    with django_assert_max_num_queries(10):
        page = c.get(reverse("onboarding:certificates")).content.decode()
    assert "CN=portal:alice" in page
    assert client_for(auditor).get(reverse("onboarding:kpi")).status_code == 200


def test_kpi_page_shows_percentiles(client_for, admin_user, team, member):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for i, seconds in enumerate([1.0, 2.0, 3.0, 10.0]):
        user = make_user(f"n{i}")
        req = Request.objects.create(kind="membership", team=team, requester=user, payload={"role": "member"})
        Onboarding.objects.create(request=req, user=user, team=team, submitted_at=now - timedelta(minutes=5), approved_at=now,
                                  seconds_from_approval=seconds, seconds_from_submission=300 + seconds, completed_at=now)
    page = client_for(admin_user).get(reverse("onboarding:kpi")).content.decode()
    assert "<dt>p50</dt><dd>2.00 s</dd>" in page and "<dt>p95</dt><dd>10.00 s</dd>" in page
    assert "<dt>max</dt><dd>310.00 s</dd>" in page
    assert 'class="histogram"' in page


def test_join_request_shows_in_the_managers_queue_and_detail(client_for, manager, outsider, team):
    from apps.onboarding.services import membership_request_submit

    req = membership_request_submit(actor=make_user("newbie"), team=team, role="viewer", note="backend, week one")
    page = client_for(manager).get(reverse("approvals:queue")).content.decode()
    assert "Wants to join" in page and "backend, week one" in page
    page = client_for(manager).get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert "portal:newbie" in page and "read-only" in page
    assert client_for(outsider).get(reverse("approvals:detail", args=[req.pk])).status_code == 404


def test_kpi_histogram_labels_tell_sub_second_buckets_apart():
    from apps.onboarding.selectors import histogram

    fast = histogram([0.012, 0.025, 0.031, 0.04])
    slow = histogram([5.0, 80.0, 200.0])

    assert [b["label"] for b in fast[:2]] == ["0.000–0.004", "0.004–0.008"]
    assert len({b["label"] for b in fast}) == len(fast)  # never "0.0–0.0" twice
    assert slow[0]["label"] == "0–20" and slow[-1]["label"] == "180–200"


def test_kpi_page_is_in_the_navigation_for_admins_and_auditors_only(client_for, admin_user, auditor, manager):
    link = f'href="{reverse("onboarding:kpi")}"'

    for user in (admin_user, auditor):
        assert link in client_for(user).get(reverse("namespaces:dashboard")).content.decode()
    assert link not in client_for(manager).get(reverse("namespaces:dashboard")).content.decode()
