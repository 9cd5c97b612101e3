"""Team pages: who sees a team, who manages its members, and what removal says."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.teams.models import Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from apps.namespaces import tasks as ns_tasks

    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a: None)


def test_team_list_shows_my_teams_only(client_for, member, outsider, team, other_team, admin_user):
    page = client_for(member).get(reverse("teams:list")).content.decode()
    assert "Payments" in page and "Search" not in page
    page = client_for(admin_user).get(reverse("teams:list")).content.decode()
    assert "Payments" in page and "Search" in page


def test_outsider_gets_404_on_team_and_member_actions(client_for, outsider, member, team):
    m = Membership.objects.get(user=member)
    c = client_for(outsider)
    assert c.get(reverse("teams:detail", args=["payments"])).status_code == 404
    assert c.post(reverse("teams:member-remove", args=["payments", m.pk])).status_code == 404
    assert c.post(reverse("teams:member-role", args=["payments", m.pk]), {"role": "viewer"}).status_code == 404
    assert c.post(reverse("teams:member-add", args=["payments"]), {"username": "mallory", "role": "manager"}).status_code == 404
    assert Membership.objects.get(pk=m.pk).role == "member"


def test_member_sees_team_but_cannot_manage(client_for, member, manager, team):
    c = client_for(member)
    page = c.get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "bob" in page and "Add a member" not in page and "Leave this team" in page
    assert "stay valid until they expire" in page
    m = Membership.objects.get(user=manager)
    c.post(reverse("teams:member-remove", args=["payments", m.pk]))
    assert Membership.objects.filter(pk=m.pk).exists()


def test_manager_adds_changes_role_and_removes(client_for, manager, member, team):
    c = client_for(manager)
    newbie = make_user("newbie")
    r = c.post(reverse("teams:member-add", args=["payments"]), {"username": "newbie", "role": "viewer"})
    assert r.status_code == 302
    m = Membership.objects.get(user=newbie)
    assert m.role == "viewer"
    c.post(reverse("teams:member-role", args=["payments", m.pk]), {"role": "member"})
    assert Membership.objects.get(pk=m.pk).role == "member"
    r = c.post(reverse("teams:member-remove", args=["payments", m.pk]), follow=True)
    assert not Membership.objects.filter(pk=m.pk).exists()
    assert "grant nothing without the bindings" in r.content.decode()
    assert AuditEvent.objects.filter(action="membership.remove", actor=manager).exists()


def test_add_member_bad_input(client_for, manager, team):
    r = client_for(manager).post(reverse("teams:member-add", args=["payments"]), {"username": "ghost", "role": "member"})
    assert r.status_code == 400 and "no active user" in r.content.decode()
    r = client_for(manager).post(reverse("teams:member-add", args=["payments"]), {"username": "bob", "role": "owner"})
    assert r.status_code == 400


def test_last_manager_is_kept_with_a_message(client_for, manager, team):
    m = Membership.objects.get(user=manager)
    r = client_for(manager).post(reverse("teams:member-role", args=["payments", m.pk]), {"role": "member"}, follow=True)
    assert "last manager" in r.content.decode() and Membership.objects.get(pk=m.pk).role == "manager"


def test_admin_deactivates_user(client_for, admin_user, member, manager, team):
    r = client_for(manager).post(reverse("teams:user-deactivate", args=[member.pk]))
    assert r.status_code == 404
    client_for(admin_user).post(reverse("teams:user-deactivate", args=[member.pk]), {"next": "/teams/payments/"})
    member.refresh_from_db()
    assert not member.is_active and not Membership.objects.filter(user=member).exists()


def test_team_detail_query_count_is_flat(client_for, manager, team, django_assert_max_num_queries):
    c = client_for(manager)
    for i in range(15):
        Membership.objects.create(user=make_user(f"u{i}"), team=team, role="member")
    # The page also shows usage, budgets and violations (a fixed number of queries each; flatness with
    # 1/10/100 teams of 50 is proven in tests/teams/test_administration.py).
    with django_assert_max_num_queries(20):
        assert c.get(reverse("teams:detail", args=["payments"])).status_code == 200
