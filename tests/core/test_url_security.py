"""Security by default, checked on every route the portal serves.

New pages and endpoints are picked up automatically: an anonymous visitor
never gets content (pages send them to log in, the API answers 401), and no
page or session-authenticated API call accepts a POST without a CSRF token.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Public on purpose: the login page and the two steps of single sign-on (they are
# how one signs in), the API's description (OpenAPI schema and Swagger UI) — it
# names endpoints and fields, never data — and /metrics, which has its own bearer
# token (off without one; tests/ops checks 404 and 401).
PUBLIC = {"login/", "oidc/authenticate/", "oidc/callback/", "api/schema/", "api/docs/", "metrics"}
SKIP_PREFIXES = ("admin/",)  # Django's admin has its own login and CSRF handling


def _routes(patterns=None, prefix=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _concrete(route: str) -> str:
    """A URL for the route: path converters and regex groups filled with plausible values."""
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"<int:\w+>|\(\?P<\w+>\[0-9\]\+\)", "1", route)
    route = re.sub(r"<slug:name>", "dev", route)
    route = re.sub(r"<slug:\w+>", "payments", route)
    # Router prefixes with named regex groups (team members API).
    route = re.sub(r"\(\?P<slug>[^)]*\)", "payments", route)
    route = re.sub(r"\(\?P<username>[^)]*\)", "alice", route)
    route = re.sub(r"\(\?P<cluster>[^)]*\)", "dev", route)
    assert "<" not in route and "(?" not in route, f"add a filler for {route}"
    return "/" + route


ROUTES = sorted({r for r in _routes() if not r.startswith(SKIP_PREFIXES) and r not in PUBLIC})


def test_the_route_list_is_not_empty():
    # Guards the parametrisation below against silently testing nothing.
    assert len(ROUTES) > 40
    assert any(r.startswith("api/v1/") for r in ROUTES) and "namespaces/request/" in ROUTES


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_visitors_get_nothing(route):
    url = _concrete(route)
    client = Client()
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 405), f"{method.upper()} {url} -> {response.status_code}"
        else:
            assert response.status_code in (302, 405), f"{method.upper()} {url} -> {response.status_code}"
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), f"{method.upper()} {url} -> {response['Location']}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r not in ("logout/",)])
def test_posts_without_a_csrf_token_are_refused(route, admin_user):
    """Logged in (session) but no CSRF token: every state-changing POST is refused with 403."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = _concrete(route)
    response = client.post(url, {})
    assert response.status_code in (403, 405), f"POST {url} -> {response.status_code}"
