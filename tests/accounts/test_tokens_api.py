"""``/api/v1/tokens/``: list, issue and revoke API tokens; owners and platform admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_issue
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/tokens/"


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_gets_401_everywhere(member):
    row, _ = api_token_issue(actor=None, user=member)
    client = APIClient()
    assert client.get(URL).status_code == 401
    assert client.post(URL, {"name": "x"}, format="json").status_code == 401
    assert client.delete(f"{URL}{row.pk}/").status_code == 401
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_issue_returns_the_token_once_and_it_works(api_client_for, member):
    client = api_client_for(member)
    response = client.post(URL, {"name": "ci", "expires_in_days": 10}, format="json")
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["name"] == "ci" and body["user"] == "alice" and body["token"].startswith(body["prefix"])
    row = ApiToken.objects.get(pk=body["id"])
    assert timedelta(days=9) < row.expires_at - timezone.now() <= timedelta(days=10)
    assert body["token"] not in str(ApiToken.objects.values()) and body["token"] not in str(AuditEvent.objects.values())

    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    listed = fresh.get(URL).json()["results"]
    assert "ci" in [t["name"] for t in listed] and all("token" not in t for t in listed)
    event = AuditEvent.objects.get(action="api_token.issue", after__token_id=row.pk)
    assert (event.actor, event.after["name"]) == (member, "ci")


def test_issue_without_a_lifetime_takes_the_default(member, settings):
    settings.API_TOKEN_DEFAULT_DAYS = 5
    body = as_user(member).post(URL, {"name": "ci"}, format="json").json()
    assert timedelta(days=4) < ApiToken.objects.get(pk=body["id"]).expires_at - timezone.now() <= timedelta(days=5)


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"name": "ci", "expires_in_days": 366}, "expires_in_days", "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": 0}, "expires_in_days", "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": -3}, "expires_in_days", "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": 10**30}, "expires_in_days", "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": "30"}, "expires_in_days", "must be an integer"),
    ({"name": "ci", "expires_in_days": 2.5}, "expires_in_days", "must be an integer"),
    ({"name": "ci", "expires_in_days": True}, "expires_in_days", "must be an integer"),
    ({"name": "x" * 101}, "name", "Ensure this field has no more than 100 characters."),
    ({"name": ""}, "name", "This field may not be blank."),
    ({"name": 5}, "name", "must be a string"),
    ({}, "name", "This field is required."),
    ({"name": "ci", "user": "bob"}, "user", "unknown field"),
])
def test_bad_input_is_400_and_issues_nothing(member, settings, payload, field, message):
    settings.API_TOKEN_MAX_DAYS = 365
    response = as_user(member).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()[field][0]
    assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()


def test_a_body_that_is_not_an_object_is_400(member):
    assert as_user(member).post(URL, ["ci"], format="json").status_code == 400
    assert not ApiToken.objects.exists()


def test_users_list_only_their_own_live_tokens(member, outsider):
    _mine, _ = api_token_issue(actor=None, user=member, name="mine")
    gone, _ = api_token_issue(actor=None, user=member, name="gone")
    api_token_issue(actor=None, user=outsider, name="theirs")
    as_user(member).delete(f"{URL}{gone.pk}/")
    assert [t["name"] for t in as_user(member).get(URL).json()["results"]] == ["mine"]
    # Naming someone else narrows your own list: it never widens it.
    assert as_user(member).get(URL, {"user": "mallory"}).json()["results"] == []


def test_outsider_cannot_revoke_someone_elses_token(member, outsider):
    row, _token = api_token_issue(actor=None, user=member, name="mine")
    response = as_user(outsider).delete(f"{URL}{row.pk}/")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None
    assert not AuditEvent.objects.filter(action="api_token.revoke").exists()


def test_owner_revokes_and_it_is_audited(member):
    row, _token = api_token_issue(actor=None, user=member, name="mine")
    assert as_user(member).delete(f"{URL}{row.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=row.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert (event.actor, event.before["token_id"], event.target_id) == (member, row.pk, str(member.pk))
    # Revoked is gone: a second revoke finds nothing.
    assert as_user(member).delete(f"{URL}{row.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


def test_admin_lists_anyones_tokens_and_revokes_them(admin_user, member, outsider):
    row, _ = api_token_issue(actor=None, user=member, name="alices")
    api_token_issue(actor=None, user=outsider, name="mallorys")
    admin = as_user(admin_user)
    assert {t["name"] for t in admin.get(URL).json()["results"]} == {"alices", "mallorys"}
    assert [t["name"] for t in admin.get(URL, {"user": "alice"}).json()["results"]] == ["alices"]
    assert admin.delete(f"{URL}{row.pk}/").status_code == 204
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert (event.actor, event.target_id) == (admin_user, str(member.pk))


def test_admin_issues_tokens_only_for_themselves(admin_user):
    body = as_user(admin_user).post(URL, {"name": "mine"}, format="json").json()
    assert ApiToken.objects.get(pk=body["id"]).user == admin_user


@pytest.mark.parametrize("who", ["auditor", "manager"])
def test_auditors_and_managers_cannot_revoke_others(request, member, who):
    row, _ = api_token_issue(actor=None, user=member)
    assert as_user(request.getfixturevalue(who)).delete(f"{URL}{row.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_unknown_ids_are_404(member):
    assert as_user(member).delete(f"{URL}999999/").status_code == 404
    assert as_user(member).delete(f"{URL}abc/").status_code == 404


def test_session_clients_need_csrf(member):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(URL, {"name": "ci"}, format="json").status_code == 403
    assert not ApiToken.objects.exists()
