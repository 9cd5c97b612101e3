"""Request pages: detail (timeline, YAML preview), approve/reject/cancel, and the approval queue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.namespaces.models import Namespace
from tests.pages import make_cluster, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev(db):
    return make_cluster("dev")


@pytest.fixture
def alices_request(member, team, dev):
    return make_request(team, member, dev, "payments-dev", payload={"ttl_hours": 24})


# --- detail ------------------------------------------------------------------------


def test_requester_sees_timeline_and_exact_yaml_before_approval(client_for, member, alices_request):
    response = client_for(member).get(reverse("approvals:detail", args=[alices_request.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Submitted by alice" in body and "Waiting for a manager" in body
    assert "Exactly what will be applied on approval" in body
    assert "kind: Namespace" in body and "name: payments-dev" in body and "kind: ResourceQuota" in body
    # No decision buttons for the requester (four-eyes), but a cancel button.
    assert reverse("approvals:approve", args=[alices_request.pk]) not in body
    assert reverse("approvals:cancel", args=[alices_request.pk]) in body


def test_manager_sees_decision_buttons_and_budget(client_for, manager, team, alices_request):
    team.budget = {"requests.cpu": "4", "limits.memory": "10Gi"}
    team.save()
    body = client_for(manager).get(reverse("approvals:detail", args=[alices_request.pk])).content.decode()
    assert reverse("approvals:approve", args=[alices_request.pk]) in body
    assert reverse("approvals:reject", args=[alices_request.pk]) in body
    assert "Team budget" in body


@pytest.mark.parametrize("url_name", ["approvals:detail"])
def test_outsider_gets_404_on_request_pages(client_for, outsider, alices_request, url_name):
    assert client_for(outsider).get(reverse(url_name, args=[alices_request.pk])).status_code == 404


@pytest.mark.parametrize("url_name", ["approvals:approve", "approvals:reject", "approvals:cancel"])
def test_outsider_gets_404_on_decisions_and_nothing_changes(client_for, outsider, alices_request, url_name):
    assert client_for(outsider).post(reverse(url_name, args=[alices_request.pk]), {"reason": "x"}).status_code == 404
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.SUBMITTED


def test_auditor_reads_but_cannot_decide(client_for, auditor, alices_request):
    c = client_for(auditor)
    body = c.get(reverse("approvals:detail", args=[alices_request.pk])).content.decode()
    assert reverse("approvals:approve", args=[alices_request.pk]) not in body
    response = c.post(reverse("approvals:approve", args=[alices_request.pk]), follow=True)
    assert "only managers of team payments" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.SUBMITTED


def test_manager_approves_from_the_detail_page(client_for, manager, alices_request, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(manager).post(reverse("approvals:approve", args=[alices_request.pk]), {"reason": "looks fine"}, follow=True)
    body = response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.APPROVED and alices_request.decider == manager
    assert Namespace.objects.get().name == "payments-dev"
    # The reconcile is enqueued after commit (beside the decision's notification).
    assert [c.__qualname__.split(".")[0] for c in callbacks] == ["_deliver_after_commit", "namespace_request_approve"]
    assert "Approved by bob" in body and "looks fine" in body
    assert "Applying to cluster dev" in body
    assert 'hx-trigger="every 2s"' in body  # the timeline follows the worker
    assert AuditEvent.objects.filter(action="request.approve", actor=manager, via="ui").exists()


def test_reject_with_reason_is_on_the_requesters_timeline(client_for, member, manager, alices_request):
    client_for(manager).post(reverse("approvals:reject", args=[alices_request.pk]), {"reason": "use the shared namespace"})
    body = client_for(member).get(reverse("approvals:detail", args=[alices_request.pk])).content.decode()
    assert "Rejected by bob" in body and "use the shared namespace" in body
    assert "What would have been applied" in body
    assert not Namespace.objects.exists()


def test_deciding_twice_shows_a_message(client_for, manager, admin_user, alices_request):
    client_for(manager).post(reverse("approvals:reject", args=[alices_request.pk]))
    response = client_for(admin_user).post(reverse("approvals:approve", args=[alices_request.pk]), follow=True)
    assert "already rejected" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.REJECTED


def test_manager_cannot_approve_own_request(client_for, manager, team, dev):
    own = make_request(team, manager, dev, "payments-bob")
    response = client_for(manager).post(reverse("approvals:approve", args=[own.pk]), follow=True)
    assert "four-eyes" in response.content.decode()
    own.refresh_from_db()
    assert own.state == Request.State.SUBMITTED


def test_requester_cancels(client_for, member, alices_request):
    response = client_for(member).post(reverse("approvals:cancel", args=[alices_request.pk]), follow=True)
    assert "cancelled" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.CANCELLED


def test_manager_cannot_cancel_someone_elses_request(client_for, manager, alices_request):
    response = client_for(manager).post(reverse("approvals:cancel", args=[alices_request.pk]), follow=True)
    assert "only the requester" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.SUBMITTED


def test_too_long_reason_is_refused_before_the_service(client_for, manager, alices_request):
    response = client_for(manager).post(reverse("approvals:approve", args=[alices_request.pk]), {"reason": "x" * 3000}, follow=True)
    assert "Reason:" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == Request.State.SUBMITTED


def test_decisions_are_post_only(client_for, manager, alices_request):
    assert client_for(manager).get(reverse("approvals:approve", args=[alices_request.pk])).status_code == 405


def test_timeline_shows_ready_and_the_cluster_error(client_for, member, manager, alices_request, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        client_for(manager).post(reverse("approvals:approve", args=[alices_request.pk]))
    ns = Namespace.objects.get()
    ns.phase, ns.last_error, ns.attempts = Namespace.Phase.FAILED, 'namespaces "payments-dev" is forbidden', 2
    ns.save()
    c = client_for(member)
    partial = c.get(reverse("approvals:detail", args=[alices_request.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="timeline"')
    assert "Failed" in partial and "is forbidden" in partial
    ns.phase, ns.last_error = Namespace.Phase.READY, ""
    ns.save()
    Request.objects.filter(pk=alices_request.pk).update(state=Request.State.DONE)
    partial = c.get(reverse("approvals:detail", args=[alices_request.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>Ready</strong>" in partial
    assert '<span id="req-state" class="badge badge--ok" data-state="done" hx-swap-oob="true">Done</span>' in partial
    assert "hx-trigger" not in partial  # settled: polling stops


# --- queue ---------------------------------------------------------------------------


def test_queue_shows_team_requests_but_not_my_own(client_for, manager, member, team, dev):
    theirs = make_request(team, member, dev, "payments-dev")
    own = make_request(team, manager, dev, "payments-bob")
    body = client_for(manager).get(reverse("approvals:queue")).content.decode()
    assert f'id="req-{theirs.pk}"' in body
    assert f'id="req-{own.pk}"' not in body


def test_queue_is_empty_for_members_and_outsiders(client_for, member, outsider, manager, team, dev):
    make_request(team, manager, dev, "payments-bob")
    for user in (member, outsider):
        body = client_for(user).get(reverse("approvals:queue")).content.decode()
        assert "payments-bob" not in body
        assert "Nothing is waiting for you" in body


def test_admin_queue_has_every_team(client_for, admin_user, member, outsider, team, other_team, dev):
    make_request(team, member, dev, "payments-dev")
    make_request(other_team, outsider, dev, "search-dev")
    body = client_for(admin_user).get(reverse("approvals:queue")).content.decode()
    assert "payments-dev" in body and "search-dev" in body


def test_queue_shows_usage_against_budget(client_for, manager, member, team, dev):
    from tests.pages import make_namespace

    team.budget = {"requests.cpu": "2500m"}
    team.save()
    make_namespace(team, dev, "payments-prod", quota={"requests.cpu": "2"})
    make_request(team, member, dev, "payments-dev")  # asks requests.cpu 1
    body = client_for(manager).get(reverse("approvals:queue")).content.decode()
    assert "Team usage vs budget" in body
    assert "over budget" in body  # 2 + 1 > 2.5, compared as quantities


def test_inline_approve_with_htmx_replaces_only_the_card(client_for, manager, member, team, dev, django_capture_on_commit_callbacks):
    req = make_request(team, member, dev, "payments-dev")
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(manager).post(reverse("approvals:approve", args=[req.pk]), {"reason": "ok"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<article id="req-{req.pk}"')
    assert 'id="messages" class="messages" role="status" aria-live="polite" hx-swap-oob="true"' in body
    assert f"Request #{req.pk} approved." in body
    assert "Decided by bob" in body
    req.refresh_from_db()
    assert req.state == Request.State.APPROVED


def test_inline_reject_refused_for_own_request_shows_the_reason(client_for, manager, team, dev):
    own = make_request(team, manager, dev, "payments-bob")
    body = client_for(manager).post(reverse("approvals:reject", args=[own.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "four-eyes" in body
    own.refresh_from_db()
    assert own.state == Request.State.SUBMITTED


def test_plain_post_from_queue_returns_to_the_queue(client_for, manager, member, team, dev, django_capture_on_commit_callbacks):
    req = make_request(team, member, dev, "payments-dev")
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(manager).post(reverse("approvals:approve", args=[req.pk]), {"next": reverse("approvals:queue")})
    assert response["Location"] == reverse("approvals:queue")


def test_next_must_be_local(client_for, manager, member, team, dev):
    req = make_request(team, member, dev, "payments-dev")
    response = client_for(manager).post(reverse("approvals:reject", args=[req.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("approvals:detail", args=[req.pk])


@pytest.mark.parametrize("rows", [1, 30])
def test_queue_query_count_does_not_grow(client_for, manager, member, team, other_team, dev, django_assert_max_num_queries, rows):
    from apps.teams.models import Membership

    Membership.objects.create(user=manager, team=other_team, role=Membership.Role.MANAGER)
    team.budget = {"requests.cpu": "100"}
    team.save()
    for i in range(rows):
        make_request(team if i % 2 else other_team, member, dev, f"req-{i}")
        Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=member, payload={"role": "member"})
    c = client_for(manager)
    with django_assert_max_num_queries(10):
        response = c.get(reverse("approvals:queue"))
    assert response.status_code == 200


def test_join_request_detail_uses_its_kind_template(client_for, manager, member, team):
    req = Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=member, payload={"role": "viewer"})
    response = client_for(manager).get(reverse("approvals:detail", args=[req.pk]))
    assert response.status_code == 200
    assert "approvals/kinds/membership.html" in [t.name for t in response.templates]
    assert reverse("approvals:approve", args=[req.pk]) in response.content.decode()


def test_nav_links_the_queue_for_managers_and_admins_only(client_for, member, manager, admin_user):
    queue = f'href="{reverse("approvals:queue")}"'
    assert queue in client_for(manager).get(reverse("namespaces:dashboard")).content.decode()
    assert queue in client_for(admin_user).get(reverse("namespaces:dashboard")).content.decode()
    assert queue not in client_for(member).get(reverse("namespaces:dashboard")).content.decode()
