"""Request kinds plug into the workflow from their own apps, and only the workflow writes request state."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.approvals import kinds
from apps.approvals.kinds import RequestKind, register_request_kind, request_kind
from apps.approvals.models import Request
from apps.approvals.services import request_mark_applying, request_mark_done, request_mark_failed, request_note_waiting
from apps.audit.models import AuditEvent
from apps.namespaces import selectors as namespace_selectors
from apps.namespaces import services as namespace_services
from apps.namespaces.services import namespace_request_approve
from apps.onboarding.services import membership_request_approve
from tests.conftest import make_user


def test_every_kind_is_registered_by_its_app_once_apps_are_ready():
    assert request_kind(Request.Kind.NAMESPACE) == RequestKind(
        approve=namespace_request_approve, progress=namespace_selectors.namespace_request_progress,
        budget=namespace_selectors.namespace_request_budgets, preview=namespace_selectors.namespace_request_preview,
        preflight=namespace_services.namespace_request_preflight)
    assert request_kind(Request.Kind.MEMBERSHIP) == RequestKind(approve=membership_request_approve)
    assert set(kinds._KINDS) == set(Request.Kind.values)


def test_a_kind_nobody_registered_is_a_configuration_error(monkeypatch):
    monkeypatch.setattr(kinds, "_KINDS", {})
    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS"):
        request_kind(Request.Kind.NAMESPACE)


def test_only_request_kinds_can_be_registered():
    with pytest.raises(ImproperlyConfigured, match="not a Request.Kind"):
        register_request_kind("pizza", RequestKind(approve=lambda **kwargs: None))


def _approved(team, kind=Request.Kind.MEMBERSHIP, state=Request.State.APPROVED) -> Request:
    return Request.objects.create(kind=kind, team=team, requester=make_user("newbie"), state=state)


@pytest.mark.django_db
def test_an_approved_request_moves_applying_then_done_each_step_audited(team):
    request = _approved(team)
    assert request_mark_applying(request) and request.state == Request.State.APPLYING and request.started_at
    assert not request_mark_applying(request)  # already applying: nothing written
    assert request_mark_done(request) and request.state == Request.State.DONE and request.finished_at
    request.refresh_from_db()
    assert request.state == Request.State.DONE
    actions = list(AuditEvent.objects.filter(target_id=str(request.pk)).order_by("id").values_list("action", "actor_name", "before__state"))
    assert actions == [("request.applying", "system", "approved"), ("request.done", "system", "applying")]


@pytest.mark.django_db
@pytest.mark.parametrize("state", [Request.State.SUBMITTED, Request.State.REJECTED, Request.State.CANCELLED, Request.State.DONE])
def test_only_an_approved_or_applying_request_can_fail(team, state):
    request = _approved(team, state=state)
    assert not request_mark_failed(request, error="boom")
    assert not request_mark_done(request)
    request.refresh_from_db()
    assert request.state == state and request.last_error == ""
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_failure_keeps_the_error_for_the_timeline(team):
    request = _approved(team, state=Request.State.APPLYING)
    request_note_waiting(request, "waiting for RoleBindings in dev/payments")
    assert Request.objects.get(pk=request.pk).state == Request.State.APPLYING
    assert request_mark_failed(request, error="the cluster said no")
    request.refresh_from_db()
    assert (request.state, request.last_error) == (Request.State.FAILED, "the cluster said no")
    assert AuditEvent.objects.get(action="request.failed").message == "the cluster said no"


# Writes of a Request (create, update, save, state) in application code.
_REQUEST_WRITE = re.compile(r"Request\.objects\b[^\n]*\.(create|update|get_or_create|update_or_create|bulk_create|bulk_update|delete)\("
                            r"|\b(request|req)\.(state|started_at|finished_at|last_error|decided_at|namespace)\s*=[^=]"
                            r"|\b(request|req)\.save\(")


def test_no_app_but_approvals_writes_requests():
    apps_dir = Path(settings.BASE_DIR) / "apps"
    offenders = [
        f"{path.relative_to(apps_dir)}:{number}: {line.strip()}"
        for path in apps_dir.rglob("*.py")
        if "migrations" not in path.parts and path.parts[len(apps_dir.parts)] != "approvals"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _REQUEST_WRITE.search(line)
    ]
    assert offenders == []
