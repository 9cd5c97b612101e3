"""API-token authentication: expiry, revocation, last-used time, and throttling of guessed tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.authentication import api_token_failures_reset
from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_issue, api_token_revoke

pytestmark = pytest.mark.django_db


def client_with(token: str, ip: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def guesser_ip():
    ip = "203.0.113.77"
    api_token_failures_reset(ip)
    yield ip
    api_token_failures_reset(ip)


def test_a_new_token_expires_after_the_default_lifetime(member, settings):
    settings.API_TOKEN_DEFAULT_DAYS = 30
    row, _ = api_token_issue(actor=None, user=member)
    assert timedelta(days=30) - timedelta(minutes=1) < row.expires_at - timezone.now() <= timedelta(days=30)


def test_an_expired_token_is_refused_with_a_clear_message(member):
    row, token = api_token_issue(actor=None, user=member)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(token).get("/api/v1/teams/")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Token expired on ") and "issue a new one" in response.json()["detail"]


def test_a_revoked_token_is_refused_with_a_clear_message(member):
    row, token = api_token_issue(actor=None, user=member)
    assert client_with(token).get("/api/v1/teams/").status_code == 200
    api_token_revoke(actor=member, token=row)
    response = client_with(token).get("/api/v1/teams/")
    assert response.status_code == 401 and response.json()["detail"].startswith("Token revoked on ")


def test_last_used_is_recorded_at_most_once_a_minute(member):
    row, token = api_token_issue(actor=None, user=member)
    assert row.last_used_at is None
    client = client_with(token)
    client.get("/api/v1/teams/")
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    client.get("/api/v1/teams/")
    row.refresh_from_db()
    assert row.last_used_at == first  # no write per request
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/teams/")
    row.refresh_from_db()
    assert row.last_used_at > first


def test_guessed_tokens_get_429_with_retry_after(member, settings, guesser_ip):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    settings.API_TOKEN_FAILURE_COOLOFF_SECONDS = 120
    _, good = api_token_issue(actor=None, user=member)
    for attempt in range(2):
        assert client_with(f"pp_guess{attempt}", guesser_ip).get("/api/v1/teams/").status_code == 401
    response = client_with("pp_guess2", guesser_ip).get("/api/v1/teams/")
    assert response.status_code == 429
    assert 110 <= int(response["Retry-After"]) <= 120
    assert "Too many invalid API tokens" in response.json()["detail"]
    # While blocked, even a valid token from that address is refused: a lucky guess gains nothing.
    blocked = client_with(good, guesser_ip).get("/api/v1/teams/")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) <= 120
    # Other addresses are not affected.
    assert client_with(good, "198.51.100.2").get("/api/v1/teams/").status_code == 200


def test_expired_tokens_are_not_counted_as_guesses(member, settings, guesser_ip):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    row, token = api_token_issue(actor=None, user=member)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(days=1))
    for _ in range(4):
        assert client_with(token, guesser_ip).get("/api/v1/teams/").status_code == 401


def test_requests_without_a_token_are_not_throttled_by_the_block(member, settings, guesser_ip, client_for):
    settings.API_TOKEN_FAILURE_LIMIT = 1
    assert client_with("pp_guess", guesser_ip).get("/api/v1/teams/").status_code == 429
    anonymous = APIClient(REMOTE_ADDR=guesser_ip).get("/api/v1/teams/")
    assert anonymous.status_code == 401


def test_issue_command_takes_a_lifetime_and_refuses_one_over_the_maximum(member, settings, capsys):
    settings.API_TOKEN_MAX_DAYS = 60
    call_command("issue_api_token", "alice", "--name", "ci", "--days", "7")
    row = ApiToken.objects.get(user=member, name="ci")
    assert timedelta(days=6) < row.expires_at - timezone.now() <= timedelta(days=7)
    with pytest.raises(CommandError, match="expires_in_days: must be between 1 and 60 days"):
        call_command("issue_api_token", "alice", "--name", "long", "--days", "61")
    assert not ApiToken.objects.filter(name="long").exists()
