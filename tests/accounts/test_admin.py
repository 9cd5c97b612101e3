"""Django admin for users and API tokens: every change writes an audit row, and no secret."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_issue
from apps.audit.models import AuditEvent
from apps.teams.models import Membership
from tests.admin_forms import admin_form_data
from tests.conftest import PASSWORD, allow_audit_rewrite, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db) -> User:
    return make_user("root", is_superuser=True, is_staff=True)


def events(action_prefix: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__startswith=action_prefix).order_by("id"))


def post_change(client, url, **changes):
    data = admin_form_data(client.get(url))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(url, data)


def test_platform_role_and_flags_change_is_audited(client_for, root, member):
    c = client_for(root)
    url = reverse("admin:accounts_user_change", args=[member.pk])
    response = post_change(c, url, platform_role="admin", is_staff="on")
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert member.platform_role == "admin" and member.is_staff
    [event] = events("user.")
    assert event.action == "user.update" and event.actor == root and event.target_id == str(member.pk)
    assert event.before == {"platform_role": "", "is_staff": False}
    assert event.after == {"platform_role": "admin", "is_staff": True}
    assert member.password not in json.dumps([event.before, event.after])


def test_superuser_flag_and_groups_change_is_audited(client_for, root, member):
    ops = Group.objects.create(name="ops")
    c = client_for(root)
    response = post_change(c, reverse("admin:accounts_user_change", args=[member.pk]), is_superuser="on", groups=[str(ops.pk)])
    assert response.status_code == 302
    [event] = events("user.")
    assert event.before == {"is_superuser": False, "groups": []}
    assert event.after == {"is_superuser": True, "groups": ["ops"]}


def test_unchanged_save_writes_nothing(client_for, root, member):
    response = post_change(client_for(root), reverse("admin:accounts_user_change", args=[member.pk]))
    assert response.status_code == 302
    assert events("user.") == []


def test_adding_a_user_is_audited_without_the_password(client_for, root):
    response = client_for(root).post(reverse("admin:accounts_user_add"), {
        "username": "newbie", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    newbie = User.objects.get(username="newbie")
    [event] = events("user.")
    assert event.action == "user.create" and event.actor == root and event.before is None
    assert event.after["username"] == "newbie" and "password" not in event.after
    dumped = json.dumps(event.after)
    assert newbie.password not in dumped and PASSWORD not in dumped


def test_deactivating_in_the_admin_goes_through_the_service(client_for, root, member, team):
    api_token_issue(actor=None, user=member)
    response = post_change(client_for(root), reverse("admin:accounts_user_change", args=[member.pk]), is_active=None)
    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    assert not Membership.objects.filter(user=member).exists() and not ApiToken.objects.filter(user=member).exists()
    assert [e.action for e in events("user.")] == ["user.update", "user.deactivate"]


def test_deactivating_yourself_is_refused_and_changes_nothing(client_for, root):
    response = post_change(client_for(root), reverse("admin:accounts_user_change", args=[root.pk]), is_active=None, first_name="Rooty")
    assert response.status_code == 200 and "You cannot deactivate yourself." in response.content.decode()
    root.refresh_from_db()
    assert root.is_active and root.first_name == ""
    assert events("user.") == []


def test_users_cannot_be_deleted_in_the_admin(client_for, root, member):
    response = client_for(root).post(reverse("admin:accounts_user_delete", args=[member.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=member.pk).exists()


def test_token_rename_is_audited_without_the_digest(client_for, root, member):
    row, _ = api_token_issue(actor=None, user=member, name="ci")
    allow_audit_rewrite()
    AuditEvent.objects.all().delete()
    response = post_change(client_for(root), reverse("admin:accounts_apitoken_change", args=[row.pk]), name="ci-renamed")
    assert response.status_code == 302
    [event] = events("api_token.")
    assert event.action == "api_token.update" and event.actor == root
    assert event.before == {"name": "ci"} and event.after == {"name": "ci-renamed"}


def test_admin_action_revokes_and_audits(client_for, root, member):
    row, token = api_token_issue(actor=None, user=member, name="ci")
    c = client_for(root)
    response = c.post(reverse("admin:accounts_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=row.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor == root
    assert row.digest not in json.dumps([event.before, event.after]) and token not in json.dumps([event.before, event.after])


def test_tokens_cannot_be_deleted_in_the_admin(client_for, root, member):
    # Deleting would erase what the audit log points at: revoke instead.
    row, _ = api_token_issue(actor=None, user=member, name="ci")
    c = client_for(root)
    assert c.get(reverse("admin:accounts_apitoken_delete", args=[row.pk])).status_code == 403
    response = c.post(reverse("admin:accounts_apitoken_changelist"),
                      {"action": "delete_selected", "_selected_action": [str(row.pk)], "post": "yes"})
    assert ApiToken.objects.filter(pk=row.pk).exists()
    assert not AuditEvent.objects.filter(action="api_token.delete").exists()
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("who", ["staff", "outsider", "admin_user"])
def test_people_without_admin_rights_cannot_change_users(client_for, request, member, who):
    # ``staff``: the staff flag but no model permissions; platform admins manage in the portal, not here.
    user = make_user("stafford", is_staff=True) if who == "staff" else request.getfixturevalue(who)
    c = client_for(user)
    url = reverse("admin:accounts_user_change", args=[member.pk])
    response = c.post(url, {"username": member.username, "platform_role": "admin", "is_superuser": "on"})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"]
    member.refresh_from_db()
    assert member.platform_role == "" and not member.is_superuser
    assert events("user.") == []


def test_password_change_page_is_audited_without_the_password(client_for, root, member):
    old_hash = member.password
    response = client_for(root).post(reverse("admin:auth_user_password_change", args=[member.pk]),
                                     {"password1": "another-horse-battery-9", "password2": "another-horse-battery-9",
                                      "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert member.check_password("another-horse-battery-9")
    [event] = events("user.")
    assert event.action == "user.set_password" and event.actor == root and event.target_id == str(member.pk)
    dumped = json.dumps([event.before, event.after])
    assert "another-horse" not in dumped and old_hash not in dumped and member.password not in dumped


def test_group_permission_changes_are_audited(client_for, root):
    from django.contrib.auth.models import Permission

    perm = Permission.objects.get(codename="change_user")
    response = client_for(root).post(reverse("admin:auth_group_add"), {"name": "helpdesk", "permissions": [str(perm.pk)]})
    assert response.status_code == 302, response.content[:2000]
    [event] = events("group.")
    assert event.action == "group.create" and event.actor == root
    assert event.after["name"] == "helpdesk" and len(event.after["permissions"]) == 1
