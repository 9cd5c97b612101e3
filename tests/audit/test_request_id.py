"""The audit request id is the portal's own; a client's X-Request-ID is only kept, labelled, beside it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.admin_forms import admin_form_data
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def rename_team(c, team, name, **headers):
    url = reverse("admin:teams_team_change", args=[team.pk])
    data = admin_form_data(c.get(url))
    data["name"] = name
    return c.post(url, data, headers=headers)


def test_client_request_id_is_kept_apart_from_the_portals(client_for, team):
    c = client_for(make_user("root", is_superuser=True, is_staff=True))
    other = AuditEvent.objects.create(actor_name="x", via="ui", action="team.create", target_type="teams.team",
                                      target_id="1", target_repr="x", request_id="ci-run-42")
    response = rename_team(c, team, "Renamed", **{"X-Request-ID": "ci-run-42"})
    assert response.status_code == 302
    event = AuditEvent.objects.exclude(pk=other.pk).get()
    # A client cannot choose the id: it would let it pass its change off as another request's.
    assert event.request_id != "ci-run-42" and re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert event.client_request_id == "ci-run-42"
    assert response["X-Request-ID"] == event.request_id
    assert response["X-Client-Request-ID"] == "ci-run-42"


@pytest.mark.parametrize("supplied", ["has space", "x" * 65, "<script>", "a\u00e9"])
def test_an_unsafe_client_request_id_is_dropped(client_for, team, supplied):
    c = client_for(make_user("root", is_superuser=True, is_staff=True))
    response = rename_team(c, team, "Renamed", **{"X-Request-ID": supplied})
    event = AuditEvent.objects.get()
    assert event.client_request_id == "" and re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert "X-Client-Request-ID" not in response
    assert response["X-Request-ID"] == event.request_id


def test_every_request_gets_a_new_id_even_with_the_same_client_id(client_for, team):
    c = client_for(make_user("root", is_superuser=True, is_staff=True))
    rename_team(c, team, "One", **{"X-Request-ID": "same"})
    rename_team(c, team, "Two", **{"X-Request-ID": "same"})
    ids = list(AuditEvent.objects.values_list("request_id", "client_request_id"))
    assert len({rid for rid, _ in ids}) == 2 and {cid for _, cid in ids} == {"same"}


def test_page_csv_and_filter_show_the_client_request_id_labelled(client_for, auditor, team):
    rename_team(client_for(make_user("root", is_superuser=True, is_staff=True)), team, "Renamed",
                **{"X-Request-ID": "ci-run-7"})
    event = AuditEvent.objects.get()
    c = client_for(auditor)
    body = c.get(reverse("audit:list")).content.decode()
    assert "client request id: ci-run-7" in body
    assert [e.pk for e in c.get(reverse("audit:list"), {"client_request_id": "ci-run-7"}).context["page"]] == [event.pk]
    assert list(c.get(reverse("audit:list"), {"client_request_id": "other"}).context["page"]) == []
    rows = list(csv.DictReader(io.StringIO(b"".join(c.get(reverse("audit:export")).streaming_content).decode())))
    assert rows[0]["client_request_id"] == "ci-run-7" and rows[0]["request_id"] == event.request_id
