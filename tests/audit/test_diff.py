"""The audit page shows before/after as a field-by-field diff, with the target's human name."""

import pytest
from django.urls import reverse

from apps.audit.diff import FieldChange, field_changes
from apps.teams.services import team_update


def test_changed_fields_only_with_nested_objects_flattened():
    before = {"name": "Payments", "contact": "#pay", "budget": {"requests.cpu": "10", "pods": "50"}}
    after = {"name": "Payments & Billing", "contact": "#pay", "budget": {"requests.cpu": "20", "limits.memory": "64Gi"}}
    assert field_changes(before, after) == [
        FieldChange("name", "Payments", "Payments & Billing"),
        FieldChange("budget.requests.cpu", "10", "20"),
        FieldChange("budget.pods", "50", None),
        FieldChange("budget.limits.memory", None, "64Gi"),
    ]
    assert [c.kind for c in field_changes(before, after)] == ["changed", "changed", "removed", "added"]


def test_a_creation_lists_every_field_and_a_deletion_every_old_one():
    assert field_changes(None, {"slug": "infra", "tags": ["a", "b"], "ttl": None}) == [
        FieldChange("slug", None, "infra"), FieldChange("tags", None, '["a", "b"]'), FieldChange("ttl", None, "null")]
    assert field_changes({"slug": "infra"}, None) == [FieldChange("slug", "infra", None)]
    assert field_changes(None, None) == []
    assert field_changes({"budget": {}}, {"budget": {"pods": "5"}}) == [FieldChange("budget.pods", None, "5")]
    assert field_changes({"budget": {"pods": "5"}}, {"budget": {}}) == [FieldChange("budget.pods", "5", None)]
    assert field_changes(None, {"budget": {}}) == [FieldChange("budget", None, "{}")]


@pytest.mark.django_db
def test_audit_page_shows_the_diff_rows_and_the_team_by_name(client_for, admin_user, team, monkeypatch):
    from apps.namespaces import tasks as ns_tasks

    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a: None)
    team_update(actor=admin_user, team=team, contact="#payments-oncall", budget={"requests.cpu": "12"})
    page = client_for(admin_user).get(reverse("audit:list")).content.decode()
    assert "2 fields: contact, budget.requests.cpu" in page
    assert '<th scope="row" class="mono">contact</th>' in page
    assert "<del>#payments</del>" in page and "<ins>#payments-oncall</ins>" in page
    assert '<th scope="row" class="mono">budget.requests.cpu</th>' in page and "<ins>12</ins>" in page
    assert "pprint" not in page and "{&#x27;" not in page  # no raw dict dumps any more
    assert ">payments<" in page or "payments<div" in page  # the target by its name, not "on 1"
