"""Browser test: the main pages under the production Content Security Policy.

A platform admin walks through every main page in headless Chromium; any
console error, uncaught page error or CSP violation (``securitypolicyviolation``
event, recorded by a script Playwright injects outside the page's policy)
fails the test. Inline code that the policy blocks shows up here first.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.teams.models import Membership
from tests.conftest import PASSWORD
from tests.pages import make_cluster, make_namespace, make_request

pytestmark = [pytest.mark.browser]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
});
"""


def test_main_pages_have_no_console_errors_or_csp_violations(browser, live_server, team, member, manager, admin_user):
    cluster = make_cluster()
    namespace = make_namespace(team, cluster, "payments-web", owner=member)
    make_request(team, member, cluster, "payments-api")
    # Staff too, so the Django admin pages below are the real ones (with
    # their own scripts), not the admin login form.
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save(update_fields=["is_staff", "is_superuser"])
    Membership.objects.get_or_create(team=team, user=admin_user, defaults={"role": Membership.Role.MANAGER})

    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    login = page.goto(reverse("login"))
    assert "unsafe-inline" not in login.headers["content-security-policy"]
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    pages = [
        reverse("namespaces:dashboard"),
        reverse("namespaces:request"),
        reverse("approvals:queue"),
        reverse("namespaces:detail", args=[namespace.pk]),
        reverse("onboarding:kubeconfig"),
        reverse("audit:list"),
        reverse("teams:detail", args=[team.slug]),
        reverse("teams:list"),
        reverse("teams:new"),
        reverse("teams:edit", args=[team.slug]),
        reverse("admin:teams_team_change", args=[team.pk]),
        reverse("api-docs"),
        reverse("accounts:tokens"),
        reverse("accounts:lockouts"),
        reverse("namespaces:adopt"),
        reverse("clusters:list"),
        reverse("onboarding:kpi"),
        reverse("admin:index"),
        reverse("admin:accounts_user_change", args=[member.pk]),
    ]
    visited = []
    for url in pages:
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")
        assert "/login/" not in page.url, url
        if url == reverse("api-docs"):
            # Swagger UI rendered the schema (its inline bootstrap ran under the nonce).
            page.locator(".swagger-ui .opblock").first.wait_for()
        violations = page.evaluate("() => window.__cspViolations")
        problems.extend(f"{url}: CSP violation: {v}" for v in violations)
        visited.append(url)

    # A data-confirm form (formerly an inline onsubmit) still asks first:
    # dismissing the dialog keeps the member.
    page.goto(reverse("teams:detail", args=[team.slug]))
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator("form[data-confirm]").filter(has_text="Remove").first.get_by_role("button", name="Remove").click()
    page.wait_for_timeout(300)
    assert dialogs and dialogs[0].startswith("Remove ")
    assert Membership.objects.filter(team=team, user=member).exists()

    context.close()
    assert len(visited) == len(pages)
    assert problems == []
