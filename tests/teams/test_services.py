"""Membership services: join requests, direct management, offboarding, deactivation."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import ApiToken
from apps.approvals.models import Request
from apps.approvals.services import request_approve, request_reject
from apps.audit.models import AuditEvent
from apps.core.errors import ServiceError
from apps.onboarding.models import Onboarding
from apps.onboarding.services import membership_request_submit
from apps.teams.models import Membership
from apps.teams.services import membership_add, membership_change_role, membership_remove, user_deactivate
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Team ids whose reconcile was enqueued (after commit) and onboarding checks enqueued."""
    from apps.namespaces import tasks as ns_tasks
    from apps.onboarding import tasks as onb_tasks

    calls = {"reconcile_team": [], "confirm_access": []}
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda team_id: calls["reconcile_team"].append(team_id))
    monkeypatch.setattr(onb_tasks.confirm_access, "delay", lambda pk: calls["confirm_access"].append(pk))
    return calls


def test_newcomer_asks_and_manager_approves(manager, team, enqueued, django_capture_on_commit_callbacks):
    newbie = make_user("newbie")
    req = membership_request_submit(actor=newbie, team=team, role="viewer", note="new in payments")
    assert req.kind == Request.Kind.MEMBERSHIP and req.payload == {"role": "viewer", "note": "new in payments"}
    assert AuditEvent.objects.filter(action="request.submit", target_id=str(req.pk)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        req = request_approve(actor=manager, request=req, reason="ok")
    assert Membership.objects.get(team=team, user=newbie).role == "viewer"
    assert req.state == Request.State.APPLYING
    onboarding = Onboarding.objects.get(request=req)
    # Reconcile first, then the access check: on a FIFO queue the check finds the bindings.
    assert enqueued == {"reconcile_team": [team.pk], "confirm_access": [onboarding.pk]}
    assert AuditEvent.objects.filter(action="membership.add", actor=manager).exists()


def test_requester_cannot_approve_own_join_even_as_admin(admin_user, team):
    req = membership_request_submit(actor=admin_user, team=team)
    with pytest.raises(PermissionDenied, match="four-eyes"):
        request_approve(actor=admin_user, request=req)


def test_member_of_the_team_cannot_decide_join(member, team):
    req = membership_request_submit(actor=make_user("newbie"), team=team)
    with pytest.raises(PermissionDenied):
        request_approve(actor=member, request=req)


def test_rejected_join_creates_no_membership(manager, team):
    newbie = make_user("newbie")
    req = request_reject(actor=manager, request=membership_request_submit(actor=newbie, team=team), reason="who are you?")
    assert req.state == Request.State.REJECTED and not Membership.objects.filter(user=newbie).exists()


@pytest.mark.parametrize("role", ["manager", "admin", ""])
def test_join_role_must_be_member_or_viewer(team, role):
    with pytest.raises(ValidationError) as info:
        membership_request_submit(actor=make_user("newbie"), team=team, role=role)
    assert "role" in info.value.message_dict


def test_cannot_ask_twice_or_when_already_in(member, team):
    newbie = make_user("newbie")
    membership_request_submit(actor=newbie, team=team)
    with pytest.raises(ValidationError, match="already asked"):
        membership_request_submit(actor=newbie, team=team)
    with pytest.raises(ValidationError, match="already in team"):
        membership_request_submit(actor=member, team=team)


def test_approval_fails_cleanly_if_user_joined_meanwhile(manager, team, enqueued):
    newbie = make_user("newbie")
    req = membership_request_submit(actor=newbie, team=team)
    membership_add(actor=manager, team=team, user=newbie)
    with pytest.raises(ServiceError, match="already in team"):
        request_approve(actor=manager, request=req)
    req.refresh_from_db()
    assert req.state == Request.State.SUBMITTED


def test_manager_adds_changes_and_removes_with_audit_and_reconcile(manager, team, enqueued, django_capture_on_commit_callbacks):
    newbie = make_user("newbie")
    with django_capture_on_commit_callbacks(execute=True):
        m = membership_add(actor=manager, team=team, user=newbie, role="viewer")
        membership_change_role(actor=manager, membership=m, role="member")
        membership_remove(actor=manager, membership=m)
    assert not Membership.objects.filter(user=newbie).exists()
    actions = list(AuditEvent.objects.filter(target_type="teams.membership").order_by("id").values_list("action", flat=True))
    assert actions == ["membership.add", "membership.change_role", "membership.remove"]
    assert enqueued["reconcile_team"] == [team.pk, team.pk, team.pk]
    removal = AuditEvent.objects.get(action="membership.remove")
    assert removal.before["user"] == "newbie" and "stay valid until expiry" in removal.message


def test_members_and_outsiders_cannot_manage(member, outsider, team):
    newbie = make_user("newbie")
    for actor in (member, outsider):
        with pytest.raises(PermissionDenied):
            membership_add(actor=actor, team=team, user=newbie)
    m = Membership.objects.get(user=member, team=team)
    with pytest.raises(PermissionDenied):
        membership_change_role(actor=outsider, membership=m, role="viewer")
    with pytest.raises(PermissionDenied):
        membership_remove(actor=outsider, membership=m)


def test_member_may_leave(member, team, enqueued):
    membership_remove(actor=member, membership=Membership.objects.get(user=member, team=team))
    assert not Membership.objects.filter(user=member, team=team).exists()


def test_last_manager_stays(manager, team, admin_user):
    m = Membership.objects.get(user=manager, team=team)
    with pytest.raises(ServiceError, match="last manager"):
        membership_change_role(actor=admin_user, membership=m, role="member")
    with pytest.raises(ServiceError, match="last manager"):
        membership_remove(actor=admin_user, membership=m)


def test_deactivation_removes_every_membership_and_token(admin_user, member, team, other_team, enqueued,
                                                        django_capture_on_commit_callbacks, api_client_for):
    Membership.objects.create(user=member, team=other_team, role="viewer")
    api_client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(actor=admin_user, user=member)
    member.refresh_from_db()
    assert not member.is_active and not Membership.objects.filter(user=member).exists()
    assert not ApiToken.objects.filter(user=member).exists()
    assert sorted(enqueued["reconcile_team"]) == sorted([team.pk, other_team.pk])
    event = AuditEvent.objects.get(action="user.deactivate")
    assert {m["team"] for m in event.before["memberships"]} == {"payments", "search"}


def test_only_admins_deactivate(manager, member):
    with pytest.raises(PermissionDenied):
        user_deactivate(actor=manager, user=member)


def test_audit_rows_name_targets_by_human_names_not_ids(team, manager):
    newbie = make_user("newbie")
    req = membership_request_submit(actor=newbie, team=team, role="member", note="")

    event = AuditEvent.objects.get(action="request.submit", target_id=str(req.pk))
    assert event.target_repr == f"#{req.pk} Join team payments"
