"""OpenID Connect sign-in against a real OpenID Provider: the npm package ``oidc-provider`` run with
the machine's Node.js (``tests/oidc/provider.mjs``, installed by ``make test``), driven through the
authorization-code flow with PKCE in Chromium.

What it shows: a first sign-in creates the user from the claims; the groups claim gives the platform
role and team memberships (audited); a later sign-in with fewer groups removes the IdP-granted
membership through the usual offboarding path, and leaves portal-granted ones alone; logout ends
the portal session and the IdP's (RP-initiated logout); local password sign-in can be switched off;
without OIDC_ISSUER the login page is the local one only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.urls import reverse

from apps.accounts.models import User
from apps.accounts.oidc import _cache as discovery_cache
from apps.audit.actions import Action
from apps.audit.models import AuditEvent
from apps.teams.models import Membership, Team
from tests.conftest import PASSWORD, make_user

HERE = Path(__file__).resolve().parent
CLIENT_SECRET = "oidc-test-client-secret-not-for-production"
USERS = {
    "dana": {"email": "dana@example.test", "given_name": "Dana", "family_name": "Ops",
             "groups": ["portal-admins", "team-payments-manager", "team-search-member", "team-ghosts-member", "staff"]},
    "eve": {"email": "eve@example.test", "given_name": "Eve", "family_name": "Dev", "groups": ["team-payments-member"]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def idp_users(tmp_path):
    """The IdP's user directory: ``idp_users.write(USERS)`` changes what the next sign-in says."""
    path = tmp_path / "users.json"

    class Directory:
        file = path

        def write(self, users):
            path.write_text(json.dumps(users))

    directory = Directory()
    directory.write(USERS)
    return directory


@pytest.fixture
def oidc_provider(live_server, settings, idp_users):
    """Start oidc-provider for the live server's redirect URI; point the portal at it."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the OpenID Provider is missing: `make test` installs Node's oidc-provider into tests/oidc (npm ci)")
    issuer = f"http://127.0.0.1:{free_port()}"
    client = {"client_id": "portal", "client_secret": CLIENT_SECRET,
              "redirect_uris": [f"{live_server.url}/oidc/callback/"],
              "post_logout_redirect_uris": [f"{live_server.url}/login/"]}
    log = open(HERE.parent.parent / "var" / "oidc-provider.log", "w")
    proc = subprocess.Popen([node, str(HERE / "provider.mjs")], cwd=HERE, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, OIDC_TEST_ISSUER=issuer, OIDC_TEST_CLIENT=json.dumps(client),
                                     OIDC_TEST_USERS_FILE=str(idp_users.file)))
    deadline = time.monotonic() + 20
    while "oidc-provider listening" not in Path(log.name).read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"oidc-provider did not start:\n{Path(log.name).read_text()}")
        time.sleep(0.1)
    settings.OIDC_ISSUER = issuer
    settings.OIDC_RP_CLIENT_ID = "portal"
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ADMIN_GROUPS = ["portal-admins"]
    settings.OIDC_AUDITOR_GROUPS = ["portal-auditors"]
    settings.OIDC_TEAM_GROUP_PATTERN = r"team-(?P<team>[a-z0-9-]+)-(?P<role>member|manager|viewer)"
    # As settings.py does from OIDC_ISSUER: the logout form may redirect to the IdP.
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [*settings.SECURE_CSP["form-action"], issuer]}
    discovery_cache.update(at=0.0, document=None)
    yield issuer
    discovery_cache.update(at=0.0, document=None)
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def sign_in_at_the_idp(page, login: str):
    """oidc-provider's development login and consent pages."""
    page.wait_for_url(re.compile(r"/interaction/"))
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any")
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/interaction/|/oidc/callback/|/$"))
    if "/interaction/" in page.url:  # consent
        page.click('button[type="submit"]')


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    # The development pages of oidc-provider load a web font from the internet, which this machine
    # does not reach: answer it empty instead of letting it fail.
    context.route("https://fonts.googleapis.com/**", lambda route: route.fulfill(status=200, body="", content_type="text/css"))
    page = context.new_page()
    page.set_default_timeout(20000)
    return page


@pytest.mark.browser
def test_sign_in_with_pkce_maps_groups_then_a_later_sign_in_offboards(browser, live_server, oidc_provider, idp_users, db):
    payments = Team.objects.create(slug="payments", name="Payments")
    search = Team.objects.create(slug="search", name="Search")
    boss = make_user("boss")
    Membership.objects.create(user=boss, team=payments, role=Membership.Role.MANAGER)
    Membership.objects.create(user=boss, team=search, role=Membership.Role.MANAGER)

    page = new_page(browser, live_server)
    page.goto(reverse("login"))
    requests_seen = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.get_by_role("link", name=re.compile("Sign in with")).click()
    sign_in_at_the_idp(page, "dana")
    page.wait_for_url(re.compile(r"/$"))
    # PKCE: the authorization request carried an S256 challenge.
    authorize = next(url for url in requests_seen if url.startswith(oidc_provider + "/auth"))
    assert "code_challenge=" in authorize and "code_challenge_method=S256" in authorize

    dana = User.objects.get(username="dana")
    assert dana.email == "dana@example.test" and dana.first_name == "Dana" and dana.oidc_subject == "dana"
    assert not dana.has_usable_password()
    assert dana.platform_role == User.PlatformRole.ADMIN
    roles = dict(Membership.objects.filter(user=dana).values_list("team__slug", "role"))
    assert roles == {"payments": "manager", "search": "member"}  # team "ghosts" does not exist: skipped
    assert set(Membership.objects.filter(user=dana).values_list("source", flat=True)) == {Membership.Source.IDP}
    actions = set(AuditEvent.objects.filter(target_type="accounts.user", target_id=str(dana.pk)).values_list("action", flat=True))
    assert {Action.USER_CREATE, Action.USER_UPDATE} <= actions
    assert AuditEvent.objects.filter(action=Action.MEMBERSHIP_ADD, team=payments).exists()
    assert "Dana Ops" in page.content()

    # A membership granted in the portal stays whatever the IdP says.
    ops = Team.objects.create(slug="ops", name="Ops")
    Membership.objects.create(user=dana, team=ops, role=Membership.Role.MEMBER)

    # Logout ends the portal session and, through the IdP's end_session endpoint, the IdP's.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/session/end"))
    page.click('button[autofocus], button[type="submit"]')
    page.wait_for_url(re.compile(r"/login/"))

    # At the IdP dana left the search team and the admins.
    idp_users.write({**USERS, "dana": {**USERS["dana"], "groups": ["team-payments-manager"]}})
    page.goto(reverse("login"))
    page.get_by_role("link", name=re.compile("Sign in with")).click()
    sign_in_at_the_idp(page, "dana")
    page.wait_for_url(re.compile(r"/$"))
    dana.refresh_from_db()
    assert dana.platform_role == User.PlatformRole.NONE
    assert dict(Membership.objects.filter(user=dana).values_list("team__slug", "role")) == {"payments": "manager", "ops": "member"}
    removed = AuditEvent.objects.get(action=Action.MEMBERSHIP_REMOVE, team=search)
    assert removed.actor is None and "RoleBindings" in removed.message


def test_login_page_offers_the_idp_and_local_sign_in_can_be_switched_off(client, oidc_provider, settings, db):
    make_user("local")
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" in page and 'name="password"' in page
    settings.LOCAL_LOGIN_ENABLED = False
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" in page and 'name="password"' not in page
    response = client.post(reverse("login"), {"username": "local", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_without_oidc_the_login_page_is_local_only(client, db, settings):
    settings.OIDC_ISSUER = ""
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404


def test_an_unreachable_issuer_is_a_clear_error_not_a_crash(client, db, settings):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"
    settings.OIDC_RP_CLIENT_ID = "portal"
    discovery_cache.update(at=0.0, document=None)
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "identity provider" in response.content.decode()
    discovery_cache.update(at=0.0, document=None)
