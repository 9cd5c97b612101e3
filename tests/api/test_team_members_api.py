"""``/api/v1/teams/{slug}/members/`` and ``/api/v1/users/{username}/deactivate/``.

The people (tests/conftest.py): alice member, bob manager, victor viewer of
payments; mallory manages another team (an outsider here); carol is a
platform admin, dora an auditor.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from apps.teams.models import Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/teams/payments/members/"
NOT_MANAGER = "only managers of team payments or a platform admin can change its members"


def member_url(username: str) -> str:
    return f"{MEMBERS}{username}/"


def deactivate_url(username: str) -> str:
    return f"/api/v1/users/{username}/deactivate/"


def identity(username: str) -> str:
    return f"{settings.CLUSTER_USER_PREFIX}{username}"


def role_of(team, username: str) -> str | None:
    return Membership.objects.filter(team=team, user__username=username).values_list("role", flat=True).first()


def changes():
    """Audit rows of membership changes and deactivations (issuing test tokens is audited too)."""
    return AuditEvent.objects.filter(action__in=["membership.add", "membership.change_role", "membership.remove",
                                                 "user.deactivate"])


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Team ids whose reconcile was enqueued (``reconcile_team.delay`` is replaced by a recorder)."""
    from apps.namespaces import tasks as ns_tasks

    calls: list[int] = []
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda team_id: calls.append(team_id))
    return calls


@pytest.fixture
def people(member, manager, viewer, outsider, admin_user, auditor):
    """Everyone, by the name the parametrised tests use."""
    return {"member": member, "manager": manager, "viewer": viewer, "outsider": outsider,
            "admin": admin_user, "auditor": auditor}


# --- who sees what ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "viewer", "manager", "admin", "auditor"])
def test_anyone_who_sees_the_team_lists_its_members(api_client_for, people, who):
    response = api_client_for(people[who]).get(MEMBERS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    rows = body["results"]
    assert [(r["username"], r["role"], r["cluster_identity"]) for r in rows] == [
        ("alice", "member", identity("alice")), ("bob", "manager", identity("bob")), ("victor", "viewer", identity("victor")),
    ]
    assert set(rows[0]) == {"username", "role", "cluster_identity", "since"}
    since = Membership.objects.get(user__username="alice").created_at
    assert rows[0]["since"].replace("Z", "+00:00") == since.isoformat()


def test_one_member_can_be_read(api_client_for, member, manager):
    response = api_client_for(member).get(member_url("bob"))
    assert response.status_code == 200
    assert response.json()["username"] == "bob" and response.json()["role"] == "manager"


def test_someone_outside_the_team_is_not_a_member_resource(api_client_for, member, outsider):
    # mallory exists, but not in payments: 404 like any unknown name.
    for username in ("mallory", "nobody"):
        assert api_client_for(member).get(member_url(username)).status_code == 404


@pytest.mark.parametrize("method,url,body", [
    ("get", MEMBERS, None),
    ("post", MEMBERS, {"username": "mallory", "role": "member"}),
    ("get", member_url("alice"), None),
    ("patch", member_url("alice"), {"role": "viewer"}),
    ("delete", member_url("alice"), None),
])
def test_outsiders_get_404_for_every_member_endpoint(api_client_for, people, team, enqueued, method, url, body):
    client = api_client_for(people["outsider"])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == 404, response.content
    # Same answer as for a team that does not exist: nothing learned about payments.
    missing = url.replace("/payments/", "/no-such-team/")
    other = getattr(client, method)(missing, body, format="json") if body is not None else getattr(client, method)(missing)
    assert other.status_code == 404 and other.json() == response.json()
    assert role_of(team, "alice") == "member" and role_of(team, "mallory") is None


@pytest.mark.parametrize("method,url", [
    ("get", MEMBERS), ("post", MEMBERS), ("get", member_url("alice")), ("patch", member_url("alice")),
    ("delete", member_url("alice")), ("post", deactivate_url("alice")),
])
def test_unauthenticated_requests_get_401(member, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_invalid_token_gets_401(member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(MEMBERS).status_code == 401


def test_list_query_count_is_the_same_for_1_and_30_members(api_client_for, admin_user, team, query_count):
    only = make_user("solo")
    Membership.objects.create(user=only, team=team, role=Membership.Role.MANAGER)
    client = api_client_for(admin_user)
    client.get(MEMBERS)  # warm up: the token's last-used stamp is written once
    small, response = query_count(lambda: client.get(MEMBERS))
    assert response.json()["count"] == 1
    for i in range(29):
        Membership.objects.create(user=make_user(f"user{i:02d}"), team=team, role=Membership.Role.MEMBER)
    large, response = query_count(lambda: client.get(MEMBERS))
    assert response.json()["count"] == 30 and len(response.json()["results"]) == 30
    assert large == small, (small, large)
    assert large <= 4  # token, team, count, page (the user is joined)


# --- add -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_managers_and_admins_add_a_member(api_client_for, people, team, enqueued, django_capture_on_commit_callbacks, who):
    make_user("newbie")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(people[who]).post(MEMBERS, {"username": "newbie", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("username", "role", "cluster_identity")} == {
        "username": "newbie", "role": "viewer", "cluster_identity": identity("newbie")}
    assert response["Location"].endswith(member_url("newbie"))
    assert role_of(team, "newbie") == "viewer"
    event = AuditEvent.objects.get(action="membership.add")
    assert (event.actor, event.via, event.team, event.after) == (
        people[who], "api", team, {"user": "newbie", "team": "payments", "role": "viewer"})
    assert enqueued == [team.pk]


def test_role_defaults_to_member(api_client_for, manager, team, enqueued):
    make_user("newbie")
    response = api_client_for(manager).post(MEMBERS, {"username": "newbie"}, format="json")
    assert response.status_code == 201 and response.json()["role"] == "member"


@pytest.mark.parametrize("who", ["member", "viewer", "auditor"])
def test_non_managers_cannot_add(api_client_for, people, team, enqueued, who):
    make_user("newbie")
    response = api_client_for(people[who]).post(MEMBERS, {"username": "newbie", "role": "member"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": NOT_MANAGER}
    assert role_of(team, "newbie") is None and not AuditEvent.objects.filter(action="membership.add").exists()


@pytest.mark.parametrize("username", ["ghost", "retired"])
def test_unknown_or_deactivated_users_cannot_be_added(api_client_for, manager, team, enqueued, username):
    make_user("retired", is_active=False)
    response = api_client_for(manager).post(MEMBERS, {"username": username, "role": "member"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"username": [f'no active user "{username}"']}
    assert role_of(team, username) is None


def test_adding_someone_already_in_the_team_says_change_the_role(api_client_for, manager, member, team, enqueued):
    response = api_client_for(manager).post(MEMBERS, {"username": "alice", "role": "manager"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"username": ["alice is already member of payments; change their role instead"]}
    # Not silently promoted, nothing recorded, nothing to reconcile.
    assert role_of(team, "alice") == "member"
    assert not changes().exists() and enqueued == []


@pytest.mark.parametrize("body,errors", [
    ({"username": "newbie", "role": "owner"}, {"role": ['"owner" is not a valid choice.']}),
    ({"username": "newbie", "role": "member", "colour": "red"}, {"colour": ["unknown field"]}),
    ({"username": 5, "role": "member"}, {"username": ["must be a string"]}),
    ({"role": "member"}, {"username": ["This field is required."]}),
    (["newbie"], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_add_bodies_get_field_errors(api_client_for, manager, team, enqueued, body, errors):
    make_user("newbie")
    response = api_client_for(manager).post(MEMBERS, body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert role_of(team, "newbie") is None


def test_malformed_json_and_form_bodies_are_refused(api_client_for, manager, team):
    client = api_client_for(manager)
    response = client.post(MEMBERS, '{"username": "newbie",', content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse error")
    response = client.post(MEMBERS, {"username": "newbie"})  # multipart form
    assert response.status_code == 415


# --- change role -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_managers_and_admins_change_a_role(api_client_for, people, team, enqueued, django_capture_on_commit_callbacks, who):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(people[who]).patch(member_url("alice"), {"role": "viewer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "viewer" and response.json()["username"] == "alice"
    assert role_of(team, "alice") == "viewer"
    event = AuditEvent.objects.get(action="membership.change_role")
    assert (event.actor, event.via, event.before["role"], event.after["role"]) == (people[who], "api", "member", "viewer")
    assert enqueued == [team.pk]


def test_the_same_role_again_changes_and_records_nothing(api_client_for, manager, member, team, enqueued):
    response = api_client_for(manager).patch(member_url("alice"), {"role": "member"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "member"
    assert not changes().exists()


@pytest.mark.parametrize("who,target", [("member", "victor"), ("viewer", "victor"), ("member", "alice"), ("auditor", "alice")])
def test_non_managers_cannot_change_roles_not_even_their_own(api_client_for, people, team, enqueued, who, target):
    before = role_of(team, target)
    response = api_client_for(people[who]).patch(member_url(target), {"role": "manager"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": NOT_MANAGER}
    assert role_of(team, target) == before


def test_the_last_manager_cannot_be_demoted(api_client_for, manager, member, admin_user, team, enqueued):
    response = api_client_for(admin_user).patch(member_url("bob"), {"role": "member"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "bob is the last manager of payments; make someone else manager first"}
    assert role_of(team, "bob") == "manager" and not changes().exists()
    # With a second manager it works, even on themselves.
    client = api_client_for(manager)
    assert client.patch(member_url("alice"), {"role": "manager"}, format="json").status_code == 200
    assert client.patch(member_url("bob"), {"role": "member"}, format="json").status_code == 200
    assert role_of(team, "bob") == "member"


@pytest.mark.parametrize("body,errors", [
    ({"role": "owner"}, {"role": ['"owner" is not a valid choice.']}),
    ({}, {"role": ["This field is required."]}),
    ({"role": "viewer", "username": "bob"}, {"username": ["unknown field"]}),
])
def test_bad_role_bodies_get_field_errors(api_client_for, manager, member, team, enqueued, body, errors):
    response = api_client_for(manager).patch(member_url("alice"), body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert role_of(team, "alice") == "member"


def test_role_changes_need_an_existing_member_and_patch(api_client_for, manager, member, enqueued):
    client = api_client_for(manager)
    assert client.patch(member_url("ghost"), {"role": "viewer"}, format="json").status_code == 404
    assert client.put(member_url("alice"), {"role": "viewer"}, format="json").status_code == 405
    response = client.patch(member_url("alice"), "{role: viewer}", content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse error")


# --- remove / leave ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_managers_and_admins_remove_a_member_and_the_reconcile_waits_for_commit(
        api_client_for, people, team, enqueued, django_capture_on_commit_callbacks, who):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client_for(people[who]).delete(member_url("alice"))
        # Inside the transaction nothing is enqueued: a worker must not
        # reconcile before the membership is really gone.
        assert enqueued == []
    assert response.status_code == 204 and response.content == b""
    assert role_of(team, "alice") is None
    assert len(callbacks) == 1
    callbacks[0]()
    assert enqueued == [team.pk]
    event = AuditEvent.objects.get(action="membership.remove")
    assert (event.actor, event.via, event.team, event.before) == (
        people[who], "api", team, {"user": "alice", "team": "payments", "role": "member"})
    assert "stay valid until expiry" in event.message


@pytest.mark.parametrize("who,username", [("member", "alice"), ("viewer", "victor")])
def test_members_and_viewers_may_leave(api_client_for, people, team, enqueued, django_capture_on_commit_callbacks, who, username):
    client = api_client_for(people[who])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(member_url(username)).status_code == 204
    assert role_of(team, username) is None
    assert AuditEvent.objects.get(action="membership.remove").actor == people[who]
    assert enqueued == [team.pk]
    # Gone from the team, they no longer see it at all.
    assert client.get(MEMBERS).status_code == 404


@pytest.mark.parametrize("who,target", [("member", "victor"), ("viewer", "alice"), ("auditor", "alice")])
def test_non_managers_cannot_remove_others(api_client_for, people, team, enqueued, django_capture_on_commit_callbacks,
                                           who, target):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(people[who]).delete(member_url(target))
    assert response.status_code == 403
    assert response.json() == {"detail": NOT_MANAGER}
    assert role_of(team, target) is not None
    assert not changes().exists() and enqueued == []


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_the_last_manager_cannot_be_removed_or_leave(api_client_for, people, team, member, enqueued,
                                                     django_capture_on_commit_callbacks, who):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(people[who]).delete(member_url("bob"))
    assert response.status_code == 409
    assert response.json() == {"detail": "bob is the last manager of payments; make someone else manager first"}
    assert role_of(team, "bob") == "manager"
    assert not changes().exists() and enqueued == []


def test_a_manager_may_leave_when_another_manager_stays(api_client_for, manager, member, team, enqueued):
    Membership.objects.filter(team=team, user=member).update(role=Membership.Role.MANAGER)
    assert api_client_for(manager).delete(member_url("bob")).status_code == 204
    assert role_of(team, "bob") is None and role_of(team, "alice") == "manager"


def test_removing_someone_not_in_the_team_is_404(api_client_for, manager, outsider):
    client = api_client_for(manager)
    assert client.delete(member_url("mallory")).status_code == 404
    assert client.delete(member_url("ghost")).status_code == 404


# --- deactivate --------------------------------------------------------------------------


def test_admin_deactivates_a_user_everywhere(api_client_for, admin_user, member, team, other_team, enqueued,
                                             django_capture_on_commit_callbacks):
    Membership.objects.create(user=member, team=other_team, role=Membership.Role.VIEWER)
    alice = api_client_for(member)
    assert alice.get(MEMBERS).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(admin_user).post(deactivate_url("alice"), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"username": "alice", "is_active": False, "cluster_identity": identity("alice")}
    member.refresh_from_db()
    assert not member.is_active and not Membership.objects.filter(user=member).exists()
    assert not ApiToken.objects.filter(user=member).exists()
    assert alice.get(MEMBERS).status_code == 401
    event = AuditEvent.objects.get(action="user.deactivate")
    assert (event.actor, event.via) == (admin_user, "api")
    assert {m["team"] for m in event.before["memberships"]} == {"payments", "search"}
    assert sorted(enqueued) == sorted([team.pk, other_team.pk])


def test_deactivate_takes_no_body_or_an_empty_object(api_client_for, admin_user, member, enqueued):
    client = api_client_for(admin_user)
    response = client.post(deactivate_url("alice"), {"reason": "left"}, format="json")
    assert response.status_code == 400 and response.json() == {"reason": ["unknown field"]}
    assert client.post(deactivate_url("alice")).status_code == 200


@pytest.mark.parametrize("who", ["manager", "member", "viewer", "auditor", "outsider"])
def test_only_platform_admins_can_deactivate_everyone_else_gets_404(api_client_for, people, member, enqueued, who):
    response = api_client_for(people[who]).post(deactivate_url("alice"), {}, format="json")
    assert response.status_code == 404
    # Same answer for a username that does not exist: nothing learned.
    assert api_client_for(people[who]).post(deactivate_url("ghost"), {}, format="json").json() == response.json()
    member.refresh_from_db()
    assert member.is_active and not changes().exists()


def test_admin_cannot_deactivate_themselves_or_an_unknown_user(api_client_for, admin_user, enqueued):
    client = api_client_for(admin_user)
    response = client.post(deactivate_url("carol"), {}, format="json")
    assert response.status_code == 409 and response.json() == {"detail": "you cannot deactivate yourself"}
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert client.post(deactivate_url("ghost"), {}, format="json").status_code == 404
    assert client.get(deactivate_url("carol")).status_code == 405
