"""Django admin for teams: saves go through the team services, are audited, and do not 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.teams.models import Membership, Team
from tests.admin_forms import admin_form_data
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return make_user("root", is_superuser=True, is_staff=True)


def actions():
    return [e.action for e in AuditEvent.objects.order_by("id")]


def change_url(team):
    return reverse("admin:teams_team_change", args=[team.pk])


def test_saving_a_team_with_members_answers_redirect_and_audits_the_change(client_for, root, team, member, manager):
    c = client_for(root)
    data = admin_form_data(c.get(change_url(team)))
    data["name"] = "Payments & Billing"
    response = c.post(change_url(team), data)
    assert response.status_code == 302, response.content[:2000]  # was a 500: 'MembershipFormSet' has no 'new_objects'
    team.refresh_from_db()
    assert team.name == "Payments & Billing"
    [event] = AuditEvent.objects.all()
    assert event.action == "team.update" and event.actor == root and event.team == team
    assert event.before == {"name": "Payments"} and event.after == {"name": "Payments & Billing"}


def _membership_prefix(data) -> str:
    return next(k[: -len("-TOTAL_FORMS")] for k in data if k.endswith("-TOTAL_FORMS"))


def test_inline_membership_changes_go_through_the_services(client_for, root, team, member, manager):
    newbie = make_user("newbie")
    c = client_for(root)
    data = admin_form_data(c.get(change_url(team)))
    prefix = _membership_prefix(data)
    rows = {data[f"{prefix}-{i}-user"]: i for i in range(int(data[f"{prefix}-TOTAL_FORMS"]) - 1)
            if f"{prefix}-{i}-user" in data}
    data[f"{prefix}-{rows[member.pk]}-role"] = Membership.Role.VIEWER
    # a new row for the newcomer (the page's blank "extra" row)
    new = int(data[f"{prefix}-TOTAL_FORMS"]) - 1
    data[f"{prefix}-{new}-user"] = str(newbie.pk)
    data[f"{prefix}-{new}-role"] = Membership.Role.MEMBER
    response = c.post(change_url(team), data)
    assert response.status_code == 302, response.content[:3000]
    assert Membership.objects.get(team=team, user=member).role == Membership.Role.VIEWER
    assert Membership.objects.get(team=team, user=newbie).role == Membership.Role.MEMBER
    assert sorted(actions()) == ["membership.add", "membership.change_role"]
    change = AuditEvent.objects.get(action="membership.change_role")
    assert change.actor == root and change.before["role"] == "member" and change.after["role"] == "viewer"

    data = admin_form_data(c.get(change_url(team)))
    prefix = _membership_prefix(data)
    row = next(i for i in range(int(data[f"{prefix}-TOTAL_FORMS"])) if data.get(f"{prefix}-{i}-user") == newbie.pk)
    data[f"{prefix}-{row}-DELETE"] = "on"
    assert c.post(change_url(team), data).status_code == 302
    assert not Membership.objects.filter(team=team, user=newbie).exists()
    assert actions()[-1] == "membership.remove"


def test_removing_the_last_manager_in_the_inline_is_refused(client_for, root, team, manager):
    c = client_for(root)
    data = admin_form_data(c.get(change_url(team)))
    prefix = _membership_prefix(data)
    data[f"{prefix}-0-DELETE"] = "on"
    response = c.post(change_url(team), data, follow=True)
    assert response.status_code == 200
    assert "last manager" in response.content.decode()
    assert Membership.objects.filter(team=team, user=manager).exists()
    assert "membership.remove" not in actions()


def test_bulk_delete_of_teams_is_audited(client_for, root, team, other_team):
    response = client_for(root).post(reverse("admin:teams_team_changelist"), {
        "action": "delete_selected", "_selected_action": [str(team.pk), str(other_team.pk)], "post": "yes"})
    assert response.status_code == 302
    assert not Team.objects.exists()
    events = AuditEvent.objects.order_by("id")
    assert [e.action for e in events] == ["team.delete", "team.delete"]
    assert sorted(e.before["slug"] for e in events) == ["payments", "search"]
    assert all(e.actor == root for e in events)


@pytest.mark.parametrize("who", ["staff", "manager", "outsider"])
def test_others_cannot_change_teams_in_the_admin(client_for, request, team, who):
    user = make_user("stafford", is_staff=True) if who == "staff" else request.getfixturevalue(who)
    response = client_for(user).post(change_url(team), {"name": "Hijacked"})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"]
    team.refresh_from_db()
    assert team.name == "Payments" and not AuditEvent.objects.exists()


def test_adding_a_team_with_a_budget_in_the_admin_is_audited(client_for, root):
    c = client_for(root)
    data = admin_form_data(c.get(reverse("admin:teams_team_add")))
    data.update({"slug": "infra", "name": "Infra", "contact": "#infra", "budget": '{"requests.cpu": "8"}'})
    response = c.post(reverse("admin:teams_team_add"), data)
    assert response.status_code == 302, response.content[:2000]
    team = Team.objects.get(slug="infra")
    assert team.budget == {"requests.cpu": "8"}
    # One event for one change: the creation carries the budget it was created with.
    assert actions() == ["team.create"]
    assert AuditEvent.objects.get(action="team.create").after["budget"] == {"requests.cpu": "8"}
