"""Authentication of the REST API: tokens, sessions with CSRF, and 401 for everyone else."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken

# Every operation of the API v1 this team owns; ids need not exist (401 comes first).
ENDPOINTS = [
    ("get", "/api/v1/teams/"),
    ("get", "/api/v1/clusters/"),
    ("get", "/api/v1/namespace-requests/"),
    ("post", "/api/v1/namespace-requests/"),
    ("get", "/api/v1/namespace-requests/1/"),
    ("post", "/api/v1/namespace-requests/1/approve/"),
    ("post", "/api/v1/namespace-requests/1/reject/"),
    ("post", "/api/v1/namespace-requests/1/cancel/"),
    ("get", "/api/v1/namespaces/"),
    ("get", "/api/v1/namespaces/1/"),
    ("get", "/api/v1/namespaces/1/manifests/"),
    ("delete", "/api/v1/namespaces/1/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unauthenticated_requests_get_401_with_a_token_challenge(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_wrong_token_gets_401(db, method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_token_of_a_deactivated_user_gets_401(api_client_for, member):
    client = api_client_for(member)
    member.is_active = False
    member.save()
    assert client.get("/api/v1/teams/").status_code == 401


def test_issue_api_token_command_prints_a_working_token(member, capsys):
    call_command("issue_api_token", "alice", "--name", "ci")
    token = capsys.readouterr().out.strip()
    assert ApiToken.objects.filter(user=member, name="ci").exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/teams/")
    assert response.status_code == 200
    assert response.json()["results"][0]["slug"] == "payments"


def test_session_login_works_for_reads(member):
    client = APIClient()
    client.force_login(member)
    assert client.get("/api/v1/teams/").status_code == 200


def test_session_writes_need_the_csrf_token(member):
    """A browser session must not be usable cross-site: CSRF stays on for session-authenticated writes."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/api/v1/namespace-requests/", {"cluster": "x", "team": "payments", "name": "n"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_token_writes_need_no_csrf_token(api_client_for, member):
    client = api_client_for(member)
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/v1/namespace-requests/", {"cluster": "x", "team": "payments", "name": "n"}, format="json")
    # Reaches validation (unknown cluster) instead of being stopped by CSRF.
    assert response.status_code == 400
    assert "cluster" in response.json()
