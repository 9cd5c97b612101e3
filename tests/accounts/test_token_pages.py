"""The API tokens page: list, issue (shown once) and revoke your own tokens."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_issue
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:tokens")


def test_anonymous_is_sent_to_log_in(member):
    row, _ = api_token_issue(actor=None, user=member)
    assert Client().get(PAGE)["Location"].startswith(reverse("login"))
    assert Client().post(reverse("accounts:token-revoke", args=[row.pk]))["Location"].startswith(reverse("login"))
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_the_page_is_linked_from_the_navigation(client_for, member):
    assert f'href="{PAGE}"' in client_for(member).get(reverse("namespaces:dashboard")).content.decode()


def test_issue_shows_the_token_once_and_it_works(client_for, member):
    c = client_for(member)
    response = c.post(PAGE, {"name": "laptop", "expires_in_days": "3"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = re.search(r'<code class="secret">(pp_[^<]+)</code>', body).group(1)
    assert "it will not be shown again" in body
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/teams/").status_code == 200
    # Listed afterwards, never with the secret.
    again = c.get(PAGE).content.decode()
    assert "laptop" in again and token not in again
    assert AuditEvent.objects.filter(action="api_token.issue", actor=member).count() == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "ci", "expires_in_days": "400"}, "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": "0"}, "must be between 1 and 365 days"),
    ({"name": "ci", "expires_in_days": "soon"}, "Enter a whole number."),
    ({"name": "x" * 101}, "Ensure this value has at most 100 characters"),
    ({"name": ""}, "This field is required."),
])
def test_bad_input_is_shown_and_issues_nothing(client_for, member, settings, data, message):
    settings.API_TOKEN_MAX_DAYS = 365
    response = client_for(member).post(PAGE, data)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert not ApiToken.objects.exists()


def test_own_tokens_only_and_revoke(client_for, member, outsider):
    mine, _ = api_token_issue(actor=None, user=member, name="alices-ci")
    _theirs, _ = api_token_issue(actor=None, user=outsider, name="mallorys-ci")
    c = client_for(member)
    body = c.get(PAGE).content.decode()
    assert "alices-ci" in body and "mallorys-ci" not in body

    response = c.post(reverse("accounts:token-revoke", args=[mine.pk]), follow=True)
    assert "revoked; it no longer works" in html.unescape(response.content.decode())
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    assert "alices-ci" not in response.content.decode().split('id="tokens"')[1]
    assert AuditEvent.objects.filter(action="api_token.revoke", actor=member).count() == 1


def test_outsider_cannot_revoke_someone_elses_token(client_for, member, outsider):
    row, _ = api_token_issue(actor=None, user=member)
    assert client_for(outsider).post(reverse("accounts:token-revoke", args=[row.pk])).status_code == 404
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_an_admins_page_lists_only_their_own_tokens(client_for, admin_user, member):
    api_token_issue(actor=None, user=member, name="alices-ci")
    body = client_for(admin_user).get(PAGE).content.decode()
    assert "alices-ci" not in body and reverse("accounts:lockouts") in body


def test_revoke_is_post_only(client_for, member):
    row, _ = api_token_issue(actor=None, user=member)
    assert client_for(member).get(reverse("accounts:token-revoke", args=[row.pk])).status_code == 405
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None


def test_issue_and_revoke_need_csrf(member):
    row, _ = api_token_issue(actor=None, user=member)
    c = Client(enforce_csrf_checks=True)
    c.force_login(member)
    assert c.post(PAGE, {"name": "ci"}).status_code == 403
    assert c.post(reverse("accounts:token-revoke", args=[row.pk])).status_code == 403
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked_at is None
