"""Audit history page and CSV export (admins and auditors, read-only)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.approvals.services import request_reject
from apps.audit.actions import Action
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from tests.conftest import allow_audit_rewrite
from tests.pages import make_cluster, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(member, manager, team, other_team, outsider):
    dev = make_cluster("dev")
    req = make_request(team, member, dev, "payments-dev")
    request_reject(actor=manager, request=req, reason="no")
    audit_record(actor=outsider, action=Action.TEAM_CREATE, target=other_team, team=other_team, after={"slug": "search"})
    old = audit_record(actor=None, action=Action.NAMESPACE_EXPIRE, target=other_team, team=other_team, message="=cmd|' /C calc'!A0")
    allow_audit_rewrite()  # an event from ten days ago
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    return req


@pytest.mark.parametrize("who", ["admin_user", "auditor"])
def test_admins_and_auditors_read_everything(client_for, request, history, who):
    response = client_for(request.getfixturevalue(who)).get(reverse("audit:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "request.reject" in body and "team.create" in body and "namespace.expire" in body


@pytest.mark.parametrize("who", ["member", "manager", "outsider"])
def test_team_people_are_refused(client_for, request, history, who):
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("audit:list")).status_code == 403
    assert client_for(user).get(reverse("audit:export")).status_code == 403


def test_filters_by_actor_action_team_target_and_date(client_for, auditor, history):
    c = client_for(auditor)

    def actions(**params):
        return [e.action for e in c.get(reverse("audit:list"), params).context["page"]]

    assert actions(actor="bob") == ["request.reject"]
    assert set(actions(action="request.")) == {"request.reject"}
    assert set(actions(team="search")) == {"team.create", "namespace.expire"}
    assert actions(target=f"approvals.request:{history.pk}") == ["request.reject"]
    assert actions(since=(timezone.now() - timedelta(days=2)).date().isoformat(), team="search") == ["team.create"]
    assert actions(until=(timezone.now() - timedelta(days=5)).date().isoformat()) == ["namespace.expire"]


def test_bad_filter_input_is_reported_not_crashing(client_for, auditor, history):
    response = client_for(auditor).get(reverse("audit:list"), {"since": "yesterday-ish", "via": "carrier-pigeon"})
    assert response.status_code == 200
    assert "since" in response.content.decode() and "via" in response.content.decode()


def test_htmx_filter_returns_only_the_rows(client_for, auditor, history):
    body = client_for(auditor).get(reverse("audit:list"), {"actor": "bob"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="audit-rows">')
    assert "request.reject" in body and "team.create" not in body
    # The export link follows the filters.
    assert f'{reverse("audit:export")}?actor=bob' in body


def test_csv_export_has_the_filtered_rows_and_defuses_formulas(client_for, admin_user, history):
    response = client_for(admin_user).get(reverse("audit:export"), {"team": "search"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["action"] for r in rows} == {"team.create", "namespace.expire"}
    expired = next(r for r in rows if r["action"] == "namespace.expire")
    assert expired["actor"] == "system"
    assert expired["message"].startswith("'=")


def test_audit_is_read_only(client_for, admin_user, history):
    assert client_for(admin_user).post(reverse("audit:list")).status_code == 405


@pytest.mark.parametrize("rows", [1, 30])
def test_audit_query_count_does_not_grow(client_for, auditor, team, member, django_assert_max_num_queries, rows):
    kinds = [Action.TEAM_UPDATE, Action.MEMBERSHIP_ADD, Action.MEMBERSHIP_REMOVE]
    for i in range(rows):
        audit_record(actor=member, action=kinds[i % 3], target=team, team=team, after={"i": i})
    c = client_for(auditor)
    with django_assert_max_num_queries(7):
        assert c.get(reverse("audit:list")).status_code == 200


def test_pages_of_history_keep_the_filters(client_for, admin_user, team):
    for i in range(60):
        audit_record(actor=admin_user, action=Action.TEAM_UPDATE, target=team, team=team, message=str(i))
    c = client_for(admin_user)
    first = c.get(reverse("audit:list"), {"action": "team.update"}).content.decode()
    older = re.search(r'href="\?action=team.update&amp;older=([^"]+)">Older', first)
    assert older and "back to the newest" not in first and first.count("<time ") == 50
    # New events arriving meanwhile do not shift the next page.
    audit_record(actor=admin_user, action=Action.TEAM_UPDATE, target=team, team=team, message="late")
    second = c.get(reverse("audit:list"), {"action": "team.update", "older": unquote(html.unescape(older.group(1)))}).content.decode()
    assert second.count("<time ") == 10 and "back to the newest" in second and "Older &rarr;" not in second
    assert ">late<" not in second and "<div>9</div>" in second and "<div>0</div>" in second
