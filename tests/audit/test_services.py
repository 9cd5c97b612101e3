"""``audit_record`` writes only actions of the ``Action`` enumeration."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin

from apps.audit.actions import Action
from apps.audit.admin_mixins import AuditedAdminMixin
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["namespace.reap", "team.touch", "Request.Submit", ""])
def test_an_unknown_action_is_refused_and_nothing_is_written(team, action):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(actor=None, action=action, target=team, team=team)
    assert not AuditEvent.objects.exists()


def test_an_action_is_stored_as_its_value(team):
    event = audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team)
    event.refresh_from_db()
    assert event.action == "team.update" and event.get_action_display() == "Team changed"


def test_actions_are_object_dot_verb_so_prefix_filters_keep_working():
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", value) for value in Action.values)


def test_every_action_the_admin_records_is_known():
    audited = [model_admin for model_admin in admin.site._registry.values() if isinstance(model_admin, AuditedAdminMixin)]
    assert audited
    for model_admin in audited:
        for verb in ("create", "update", "delete"):
            assert f"{model_admin.audit_action_prefix}.{verb}" in Action.values
