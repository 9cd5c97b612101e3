"""The OpenAPI schema is complete and valid, and Swagger UI works from local assets."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

# Operations the API contract promises (issue 3, item 7): path -> methods.
CONTRACT = {
    "/api/v1/teams/": {"get"},
    "/api/v1/clusters/": {"get"},
    "/api/v1/namespace-requests/": {"get", "post"},
    "/api/v1/namespace-requests/{id}/": {"get"},
    "/api/v1/namespace-requests/{id}/approve/": {"post"},
    "/api/v1/namespace-requests/{id}/reject/": {"post"},
    "/api/v1/namespace-requests/{id}/cancel/": {"post"},
    "/api/v1/namespaces/": {"get"},
    "/api/v1/namespaces/{id}/": {"get", "delete"},
    "/api/v1/namespaces/{id}/manifests/": {"get"},
    "/api/v1/teams/{slug}/members/": {"get", "post"},
    "/api/v1/teams/{slug}/members/{username}/": {"get", "patch", "delete"},
    "/api/v1/users/{username}/deactivate/": {"post"},
}

# Writes that answer 404 rather than 403 to whoever may not use them: anyone may
# submit a request, and deactivation does not exist for non-admins (as the page).
NO_403 = {"/api/v1/namespace-requests/", "/api/v1/users/{username}/deactivate/"}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker, tmp_path_factory) -> dict:
    """The schema as ``manage.py spectacular --validate --fail-on-warn`` writes it.

    ``--validate`` checks it against the OpenAPI 3 JSON schema; ``--fail-on-warn``
    turns every generator warning (an untyped field, an unresolvable path
    parameter, a name clash) into a failure, so the schema stays exact.
    """
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_and_covers_the_contract(schema):
    paths = schema["paths"]
    for path, methods in CONTRACT.items():
        assert path in paths, f"{path} missing from the schema"
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_every_operation_documents_its_errors_and_token_auth(schema):
    for path, methods in CONTRACT.items():
        for method in methods:
            op = schema["paths"][path][method]
            assert "401" in op["responses"], (method, path)
            assert {"tokenAuth": []} in op["security"], (method, path)
            if "{" in path:
                assert "404" in op["responses"], (method, path)
            if method in ("post", "patch", "delete") and path not in NO_403:
                assert "403" in op["responses"], (method, path)


def test_create_documents_the_idempotency_key_and_both_success_codes(schema):
    op = schema["paths"]["/api/v1/namespace-requests/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert {"200", "201", "400", "403", "422"} <= set(op["responses"])
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = schema["components"]["schemas"][body]
    assert set(fields["properties"]) == {"cluster", "team", "name", "purpose", "quota", "tier", "ttl_hours", "pod_security_level"}
    assert set(fields["required"]) == {"cluster", "team", "name"}


def test_list_endpoints_document_filters_and_pagination(schema):
    requests = {p["name"] for p in schema["paths"]["/api/v1/namespace-requests/"]["get"]["parameters"]}
    assert {"state", "team", "cluster", "limit", "offset"} <= requests
    namespaces = {p["name"] for p in schema["paths"]["/api/v1/namespaces/"]["get"]["parameters"]}
    assert {"phase", "team", "cluster", "limit", "offset"} <= namespaces


def test_member_endpoints_document_their_bodies_and_the_member_shape(schema):
    components = schema["components"]["schemas"]

    def body_of(path, method):
        ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[1]]

    add = body_of("/api/v1/teams/{slug}/members/", "post")
    assert set(add["properties"]) == {"username", "role"} and add["required"] == ["username"]
    patch = body_of("/api/v1/teams/{slug}/members/{username}/", "patch")
    assert set(patch["properties"]) == {"role"} and patch["required"] == ["role"]
    assert set(components["Membership"]["properties"]) == {"username", "role", "cluster_identity", "since"}
    assert components["MembershipRoleEnum"]["enum"] == ["member", "manager", "viewer"]
    assert {"limit", "offset"} <= {p["name"] for p in schema["paths"]["/api/v1/teams/{slug}/members/"]["get"]["parameters"]}


def test_manifests_offer_json_and_yaml(schema):
    content = schema["paths"]["/api/v1/namespaces/{id}/manifests/"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "application/yaml"}


def test_no_credentials_in_the_cluster_schema(schema):
    props = set(schema["components"]["schemas"]["Cluster"]["properties"])
    assert props.isdisjoint({"credentials", "credentials_encrypted", "ca_bundle", "token"})


def test_schema_is_served_at_api_schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/namespace-requests/" in response.json()["paths"]


def test_swagger_ui_loads_with_local_assets(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html
    for url in assets:
        assert url.startswith("/static/"), f"{url} is not served locally"
        # WhiteNoise serves them (finders on in tests): the page works offline.
        asset = Client().get(url)
        assert asset.status_code == 200, url
    # No CDN address anywhere (a bare "cdn" could be part of the random CSP nonce).
    assert not re.search(r"//[^\s\"']*cdn", html.lower())
    assert "/api/schema/" in html


# --- Swagger UI in a real browser ------------------------------------------------

@pytest.mark.browser
def test_swagger_ui_renders_offline_and_calls_the_api_with_a_token(browser, live_server, transactional_db, team, member):
    """Headless Chromium with every non-local request blocked: the docs render from our own
    static files, and "Authorize" + "Try it out" reach the API with a token."""
    from apps.accounts.services import api_token_issue

    _, token = api_token_issue(actor=None, user=member)
    outside: list[str] = []
    page = browser.new_page()
    page.set_default_timeout(20000)

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector("#operations-namespace-requests-v1_namespace_requests_create")
    assert page.locator(".opblock").count() >= len(CONTRACT)

    page.click("button.authorize")
    page.locator(".auth-container", has_text="tokenAuth").locator("input").fill(f"Token {token}")
    page.locator(".auth-container", has_text="tokenAuth").locator("button.authorize").click()
    page.click("button.btn-done")

    page.click("#operations-teams-v1_teams_list .opblock-summary")
    page.click("#operations-teams-v1_teams_list button.try-out__btn")
    page.click("#operations-teams-v1_teams_list button.execute")
    body = page.locator("#operations-teams-v1_teams_list .live-responses-table .response-col_description pre").first
    body.wait_for()
    assert '"slug": "payments"' in body.inner_text()
    assert '"role": "member"' in body.inner_text()
    assert outside == [], f"Swagger UI tried to load from outside the portal: {outside}"
