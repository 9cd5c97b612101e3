"""No 500 on bad input: NUL bytes, oversized and deeply nested bodies, absurd pagination."""

from __future__ import annotations

import json

import pytest

from apps.approvals.models import Request

URL = "/api/v1/namespace-requests/"


@pytest.mark.parametrize("query", ["limit=-1", "offset=-5", "limit=abc", "offset=99999999999999999999",
                                   "limit=99999999999999999999", "limit=1.5", "offset=%EF%BC%91"])
def test_pagination_out_of_range_is_400_naming_the_parameter(api_client_for, member, query):
    response = api_client_for(member).get(f"/api/v1/namespaces/?{query}")

    assert response.status_code == 400
    assert set(response.json()) <= {"limit", "offset"} and response.json()


def test_pagination_within_range_still_works(api_client_for, member):
    response = api_client_for(member).get("/api/v1/namespaces/?limit=5000&offset=9223372036854775807")

    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("path", ["/api/v1/namespaces/?name=a%00b", "/api/v1/namespaces/%00/", "/namespaces/?team=%00"])
def test_nul_in_path_or_query_is_400(api_client_for, member, client_for, path):
    client = api_client_for(member) if path.startswith("/api/") else client_for(member)

    response = client.get(path)

    assert response.status_code == 400
    if path.startswith("/api/"):
        assert "NUL" in response.json()["detail"]


def test_nul_in_a_json_body_is_400_and_creates_nothing(api_client_for, member, team):
    response = api_client_for(member).post(URL, {"cluster": "x", "team": team.slug, "name": "a\x00b"}, format="json")

    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert not Request.objects.exists()


def test_nul_in_a_form_body_is_400(client_for, member):
    response = client_for(member).post("/namespaces/request/", "name=a%00b&team=payments",
                                       content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400


def test_deeply_nested_json_is_400(api_client_for, member):
    body = "[" * 5000 + "]" * 5000

    response = api_client_for(member).post(URL, body, content_type="application/json")

    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(api_client_for, member, team):
    body = json.dumps({"cluster": "nope", "team": team.slug, "name": "x", "purpose": "[" * 500})

    response = api_client_for(member).post(URL, body, content_type="application/json")

    assert response.status_code == 400 and "cluster" in response.json()  # an ordinary validation error


def test_oversized_api_body_is_413_json(api_client_for, member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"purpose": "x" * 20_000})

    response = api_client_for(member).post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Request.objects.exists()


def test_oversized_page_post_is_413(client_for, member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    response = client_for(member).post("/namespaces/request/", {"purpose": "x" * 20_000})

    assert response.status_code == 413
