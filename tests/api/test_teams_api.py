"""``GET /api/v1/teams/``: each user sees their teams and their role; admins see all."""

from __future__ import annotations

import pytest

from apps.teams.models import Membership, Team
from tests.conftest import make_user

URL = "/api/v1/teams/"


def by_slug(response) -> dict:
    assert response.status_code == 200, response.content
    return {t["slug"]: t for t in response.json()["results"]}


def test_member_sees_their_team_with_their_role(api_client_for, member, manager, outsider):
    teams = by_slug(api_client_for(member).get(URL))
    created_at = teams["payments"]["created_at"]
    assert teams == {"payments": {"slug": "payments", "name": "Payments", "description": "", "contact": "#payments",
                                  "budget": {}, "archived": False, "created_at": created_at, "role": "member",
                                  "member_count": 2}}


def test_manager_and_viewer_see_their_own_roles(api_client_for, manager, viewer):
    assert by_slug(api_client_for(manager).get(URL))["payments"]["role"] == "manager"
    assert by_slug(api_client_for(viewer).get(URL))["payments"]["role"] == "viewer"


def test_outsider_sees_only_their_own_team(api_client_for, member, outsider):
    assert set(by_slug(api_client_for(outsider).get(URL))) == {"search"}


def test_user_without_teams_gets_an_empty_list(api_client_for, team, db):
    loner = make_user("loner")
    response = api_client_for(loner).get(URL)
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("who", ["admin_user", "auditor"])
def test_admins_and_auditors_see_every_team_without_a_role(request, api_client_for, team, other_team, who):
    teams = by_slug(api_client_for(request.getfixturevalue(who)).get(URL))
    assert set(teams) == {"payments", "search"}
    assert {t["role"] for t in teams.values()} == {None}


def test_admin_who_is_also_a_manager_sees_that_role(api_client_for, admin_user, team, other_team):
    Membership.objects.create(user=admin_user, team=team, role=Membership.Role.MANAGER)
    teams = by_slug(api_client_for(admin_user).get(URL))
    assert teams["payments"]["role"] == "manager" and teams["search"]["role"] is None


def test_members_cannot_create_or_delete_teams(api_client_for, member):
    # Creating is for platform admins (tests/teams/test_administration.py); nobody deletes a team over the API.
    assert api_client_for(member).post(URL, {"slug": "new-team", "name": "New"}, format="json").status_code == 403
    assert api_client_for(member).delete(f"{URL}payments/").status_code == 405
    assert api_client_for(member).get(f"{URL}payments/").json()["role"] == "member"


def test_query_count_does_not_grow_with_teams(api_client_for, admin_user, member, query_count):
    client = api_client_for(admin_user)
    client.get(URL)  # warm up: token last-used stamp
    small, response = query_count(lambda: client.get(URL))
    for i in range(20):
        extra = Team.objects.create(slug=f"team-{i}", name=f"Team {i}")
        Membership.objects.create(user=member, team=extra, role=Membership.Role.MEMBER)
        if i % 2:
            Membership.objects.create(user=admin_user, team=extra, role=Membership.Role.MANAGER)
    large, response = query_count(lambda: client.get(URL))
    assert response.json()["count"] == 21
    assert large == small, (small, large)
    assert large <= 3


def test_a_team_without_members_counts_zero(api_client_for, admin_user, db):
    from apps.teams.models import Team

    Team.objects.create(slug="empty", name="Empty")

    rows = api_client_for(admin_user).get("/api/v1/teams/").json()["results"]

    assert [(r["slug"], r["member_count"]) for r in rows] == [("empty", 0)]
