"""``GET /api/v1/audit-events/``: who reads what, filters, keyset pages that stay stable while rows are added; exports."""

import pytest

from apps.audit.actions import Action
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_admins_see_all_managers_their_team_members_nothing(api_client_for, admin_user, auditor, manager, member, outsider,
                                                           team, other_team):
    audit_record(actor=manager, action=Action.TEAM_UPDATE, target=team, team=team, after={"contact": "#pay"})
    audit_record(actor=outsider, action=Action.TEAM_UPDATE, target=other_team, team=other_team, after={"contact": "#search"})
    targets = lambda client: {e["target_repr"] for e in client.get("/api/v1/audit-events/?action=team.").json()["results"]}  # noqa: E731
    assert targets(api_client_for(admin_user)) == targets(api_client_for(auditor)) == {"payments", "search"}
    assert targets(api_client_for(manager)) == {"payments"}
    assert targets(api_client_for(outsider)) == {"search"}  # mallory manages search
    assert targets(api_client_for(member)) == set()
    assert api_client_for(member).get("/api/v1/audit-events/export/?format=jsonl").status_code == 200  # empty, not someone else's


def test_keyset_pages_do_not_shift_while_rows_are_added(api_client_for, admin_user, team):
    for i in range(5):
        audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, after={"i": i})
    c = api_client_for(admin_user)
    first = c.get("/api/v1/audit-events/?action=team.update&limit=2").json()
    for i in range(3):  # newer events arrive while the client pages
        audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, after={"new": i})
    second = c.get(first["next"]).json()
    seen = [e["after"] for e in first["results"] + second["results"]]
    assert seen == [{"i": 4}, {"i": 3}, {"i": 2}, {"i": 1}]
    assert c.get("/api/v1/audit-events/?cursor=garbage").status_code == 400
    assert c.get("/api/v1/audit-events/?limit=0").status_code == 400


def test_csv_export_and_bad_format(api_client_for, admin_user, team):
    audit_record(actor=None, action=Action.TEAM_UPDATE, target=team, team=team, message="=HYPERLINK()")
    c = api_client_for(admin_user)
    response = c.get("/api/v1/audit-events/export/?format=csv&team=payments")
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv") and "'=HYPERLINK()" in body and "content_hash" in body.splitlines()[0]
    assert c.get("/api/v1/audit-events/export/?format=xml").status_code == 400
