"""Log in / log out pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

# Logging in with a password is under test: the production hashers, not the suite's fast one.
pytestmark = [pytest.mark.django_db, pytest.mark.real_password_hashing]


def test_login_page_renders_for_anonymous(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'autocomplete="current-password"' in response.content.decode()


def test_login_tests_store_passwords_with_the_production_hasher(member):
    # The rest of the suite uses a fast hasher (tests/conftest.py); logging in is tested against the real one.
    from django.conf import settings

    assert member.password.startswith("pbkdf2_sha256$")
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def test_login_then_lands_on_the_dashboard(client, member):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("namespaces:dashboard")
    assert "My namespaces" in response.content.decode()


def test_login_keeps_next(client, member):
    target = reverse("approvals:queue")
    response = client.post(reverse("login") + f"?next={target}", {"username": "alice", "password": PASSWORD, "next": target})
    assert response["Location"] == target


def test_wrong_password_is_refused_with_a_message(client, member):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_needs_csrf(member):
    c = Client(enforce_csrf_checks=True)
    assert c.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 403


def test_logged_in_user_is_sent_on_from_login(client_for, member):
    assert client_for(member).get(reverse("login"))["Location"] == reverse("namespaces:dashboard")


def test_logout_is_a_post_and_ends_the_session(client_for, member):
    c = client_for(member)
    assert reverse("logout") in c.get(reverse("namespaces:dashboard")).content.decode()
    assert c.get(reverse("logout")).status_code == 405  # a link elsewhere cannot log you out
    response = c.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert c.get(reverse("namespaces:dashboard")).status_code == 302


def test_not_found_page_keeps_the_layout(client_for, member):
    response = client_for(member).get("/namespaces/999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "belongs to a team you are not in" in body and 'class="topbar"' in body
