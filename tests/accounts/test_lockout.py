"""Sign-in lockout after repeated failures, its audited unlock, and the sign-in audit trail."""

from __future__ import annotations

import html

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fail(client: Client, username: str = "alice"):
    return client.post(reverse("login"), {"username": username, "password": "wrong-guess"})


def lock_out(client: Client, username: str = "alice", *, limit: int):
    for _ in range(limit):
        fail(client, username)


def test_locked_out_after_the_failure_limit_even_with_the_right_password(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert fail(client).status_code == 200  # the form again, with the usual message
    response = fail(client)
    assert response.status_code == 429
    body = response.content.decode()
    assert "Sign-in locked" in body and "Too many failed sign-ins for <strong>alice</strong>" in body
    assert "try again after that" in body

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429 and "Sign-in locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_without_cool_off_waits_for_an_admin(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = None
    lock_out(client, limit=2)
    assert "until a platform admin unlocks it" in fail(client).content.decode()


def test_lockout_is_per_username_and_address(member, manager, settings):
    settings.AXES_FAILURE_LIMIT = 2
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    lock_out(guesser, limit=2)
    # The same name from another machine, and another name from the guesser's, still sign in.
    assert Client(REMOTE_ADDR="198.51.100.1").post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302
    assert guesser.post(reverse("login"), {"username": "bob", "password": PASSWORD}).status_code == 302


def test_success_resets_the_failure_count(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    lock_out(client, limit=2)
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    lock_out(client, limit=2)
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302


def test_sign_ins_and_failures_are_audited(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 2
    fail(client)
    fail(client, "nobody-of-that-name")
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    client.post(reverse("logout"))
    fail(client)
    fail(client)

    events = list(AuditEvent.objects.filter(action__startswith="auth.").order_by("id"))
    # axes reports the lockout from its own receiver of the same failure, so it lands just before it.
    assert [e.action for e in events] == ["auth.login_failed", "auth.login_failed", "auth.login",
                                          "auth.login_failed", "auth.lockout", "auth.login_failed"]
    failed, unknown, login = events[:3]
    assert (failed.actor, failed.target_id, failed.after) == (None, str(member.pk), {"username": "alice", "ip_address": "127.0.0.1"})
    # An unknown name is recorded as typed, with no user behind it.
    assert (unknown.target_id, unknown.target_repr, unknown.after["username"]) == ("None", "nobody-of-that-name", "nobody-of-that-name")
    assert (login.actor, login.target_id, login.after) == (member, str(member.pk), {"ip_address": "127.0.0.1"})
    assert "wrong-guess" not in str([e.after for e in events])  # passwords never reach the log


def test_admin_unlocks_from_the_page_and_it_is_audited(client, client_for, member, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    lock_out(client, limit=2)
    admin = client_for(admin_user)
    page = admin.get(reverse("accounts:lockouts")).content.decode()
    assert "<td>alice</td>" in page

    response = admin.post(reverse("accounts:lockouts"), {"username": "alice"}, follow=True)
    assert '"alice" can sign in again.' in html.unescape(response.content.decode())
    assert not AccessAttempt.objects.exists()
    event = AuditEvent.objects.get(action="auth.unlock")
    assert (event.actor, event.target_id, event.after["username"]) == (admin_user, str(member.pk), "alice")
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302


def test_unlocking_a_name_that_is_not_locked_says_so_and_audits_nothing(client, client_for, member, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(client)  # one failure is not a lockout
    response = client_for(admin_user).post(reverse("accounts:lockouts"), {"username": "alice"}, follow=True)
    assert '"alice" is not locked out' in html.unescape(response.content.decode())
    assert AccessAttempt.objects.get().failures_since_start == 1
    assert not AuditEvent.objects.filter(action="auth.unlock").exists()


@pytest.mark.parametrize("who", ["member", "manager", "outsider", "auditor"])
def test_only_platform_admins_see_or_lift_lockouts(request, client, client_for, member, who, settings):
    settings.AXES_FAILURE_LIMIT = 2
    lock_out(client, limit=2)
    c = client_for(request.getfixturevalue(who))
    assert c.get(reverse("accounts:lockouts")).status_code == 403
    assert c.post(reverse("accounts:lockouts"), {"username": "alice"}).status_code == 403
    assert AccessAttempt.objects.filter(username="alice").exists()
    assert not AuditEvent.objects.filter(action="auth.unlock").exists()


def test_unlock_needs_csrf(client, admin_user, member, settings):
    settings.AXES_FAILURE_LIMIT = 2
    lock_out(client, limit=2)
    c = Client(enforce_csrf_checks=True)
    c.force_login(admin_user)
    assert c.post(reverse("accounts:lockouts"), {"username": "alice"}).status_code == 403
    assert AccessAttempt.objects.filter(username="alice").exists()


def test_unlock_command_is_audited(client, member, settings, capsys):
    settings.AXES_FAILURE_LIMIT = 2
    lock_out(client, limit=2)
    call_command("unlock_login", "alice")
    assert '"alice" can sign in again.' in capsys.readouterr().out
    event = AuditEvent.objects.get(action="auth.unlock")
    assert (event.actor, event.actor_name) == (None, "system")
    with pytest.raises(CommandError, match='"alice" is not locked out'):
        call_command("unlock_login", "alice")
