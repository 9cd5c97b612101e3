"""Every path under /api/ answers JSON, errors included, and /api/v1/ lists the resources."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v2/", "/api/v1/namespaces/abc/", "/api/whatever"])
def test_unknown_api_paths_answer_json_404(api_client_for, member, path):
    response = api_client_for(member).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "GET /api/v1/ lists them" in response.json()["detail"]


def test_unknown_api_paths_answer_json_for_anonymous_clients_too(client):
    response = client.get("/api/v1/nope/")

    assert response.status_code == 404 and response.json()["detail"]


def test_pages_keep_their_html_404(client_for, member):
    response = client_for(member).get("/no-such-page/")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_method_an_endpoint_does_not_take_answers_json_405(api_client_for, admin_user):
    response = api_client_for(admin_user).put("/api/v1/clusters/", {}, format="json")

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}


def test_api_root_lists_the_resources(api_client_for, member):
    response = api_client_for(member).get("/api/v1/")

    assert response.status_code == 200
    resources = response.json()
    for name in ("teams", "clusters", "namespaces", "namespace-requests", "membership-requests", "kubeconfigs", "schema"):
        assert name in resources, name
    assert resources["namespaces"] == "http://testserver/api/v1/namespaces/"


def test_api_root_needs_authentication(client):
    assert client.get("/api/v1/").status_code in (401, 403)
