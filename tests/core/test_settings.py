"""Production settings: refuse to start without explicit keys, pass
``check --deploy`` with no warnings, and send a CSP without unsafe-inline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
FERNET_KEY = "dGVzdC1vbmx5LWNsdXN0ZXItY3JlZGVudGlhbC1rZXk="


def production_env(**overrides: str | None) -> dict[str, str]:
    """The process environment of a production deployment (DEBUG=false)."""
    env = {k: v for k, v in os.environ.items() if k not in {
        "DEBUG", "SECRET_KEY", "CLUSTER_CREDENTIAL_KEYS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SECRET_KEY_FILE", "CLUSTER_CREDENTIAL_KEYS_FILE", "CSP_REPORT_ONLY", "DJANGO_SETTINGS_MODULE", "EMAIL_BACKEND",
        # set by the browser fixture in this process; never in a deployment
        "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-k3y-9f8e7d6c5b4a3928171605f4e3d2c1b0",
        "CLUSTER_CREDENTIAL_KEYS": FERNET_KEY,
        "ALLOWED_HOSTS": "portal.example.com",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    })
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_with_production_settings_has_no_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "security.W" not in output, output
    assert "System check identified no issues" in output


def test_check_deploy_flags_the_demo_settings():
    # The test above can fail: the relaxed demo settings (DEBUG=true, no HSTS,
    # no HTTPS redirect, insecure key) are reported by the same command.
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env=production_env(DEBUG="true", SECRET_KEY=None, CLUSTER_CREDENTIAL_KEYS=None))
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CLUSTER_CREDENTIAL_KEYS"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_to_start_without_an_explicit_key(missing, how):
    result = manage("check", env=production_env(**{missing: None if how == "unset" else ""}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set explicitly when DEBUG=false" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_both_missing_are_named_together():
    result = manage("check", env=production_env(SECRET_KEY=None, CLUSTER_CREDENTIAL_KEYS=None))
    assert result.returncode != 0
    assert "SECRET_KEY and CLUSTER_CREDENTIAL_KEYS must be set explicitly" in result.stderr


def test_demo_starts_with_nothing_configured():
    result = manage("check", env=production_env(DEBUG="true", SECRET_KEY=None, CLUSTER_CREDENTIAL_KEYS=None,
                                                SECURE_PROXY_SSL_HEADER=None))
    assert result.returncode == 0, result.stderr


def test_a_proxy_header_that_is_not_a_meta_name_is_refused():
    result = manage("check", env=production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"))
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER='X-Forwarded-Proto' must be a META name" in result.stderr


def test_security_settings_come_from_the_environment():
    code = ("from django.conf import settings as s; "
            "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_AGE, s.SECURE_PROXY_SSL_HEADER)")
    env = production_env(SECURE_HSTS_SECONDS="600", SECURE_SSL_REDIRECT="false", SESSION_COOKIE_AGE="900")
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "600 False 900 ('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.parametrize("url_name", ["login", "namespaces:dashboard", "api-docs"])
def test_pages_carry_a_csp_without_unsafe_inline(client, client_for, member, url_name):
    # The login page as anonymous (a signed-in user is sent on from it).
    response = (client if url_name == "login" else client_for(member)).get(reverse(url_name))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    # Only the origin, plus the request's nonce where the page used it.
    for directive in ("script-src", "style-src"):
        sources = directives[directive].split()
        assert sources[0] == "'self'" and all(src.startswith("'nonce-") for src in sources[1:]), policy


def test_outsider_and_anonymous_get_the_csp_too(client, outsider, client_for):
    # The policy is not a property of a signed-in page: the redirect to the
    # login page and an outsider's 404 carry it as well.
    assert "Content-Security-Policy" in client.get(reverse("namespaces:dashboard")).headers
    response = client_for(outsider).get("/namespaces/999999/")
    assert response.status_code == 404
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_swagger_inline_code_carries_the_response_nonce(client_for, member):
    response = client_for(member).get(reverse("api-docs"))
    policy = response.headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    body = response.content.decode()
    assert f'<script nonce="{nonce}">' in body and f'<style nonce="{nonce}">' in body


def test_templates_have_no_inline_code():
    # Guards against regressions that only a browser would otherwise notice.
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for marker in (" style=", "<style", " onsubmit=", " onclick=", " onchange=", " onload=", "hx-on"):
            if marker in text and path.parts[-2] != "drf_spectacular":
                offenders.append(f"{path.relative_to(ROOT)}: {marker.strip()}")
        if "<script>" in text and path.parts[-2] != "drf_spectacular":
            offenders.append(f"{path.relative_to(ROOT)}: inline <script>")
    assert offenders == []


@pytest.mark.parametrize(("percent", "expected"), [(0, "w-0"), (42, "w-42"), (33.6, "w-34"), (250, "w-100"),
                                                   (-5, "w-0"), (None, "w-0"), ("n/a", "w-0")])
def test_width_class_clamps_bar_widths_to_a_css_class(percent, expected):
    from apps.core.templatetags.portal_ui import width_class

    assert width_class(percent) == expected
