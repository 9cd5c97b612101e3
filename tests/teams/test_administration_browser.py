"""Browser test: a platform admin creates a team, fixes a mistake the form points out, and archives it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.teams.models import Membership, Team
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser]


def test_admin_creates_and_archives_a_team_in_the_browser(browser, live_server, admin_user, tmp_path):
    make_user("olga")
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    page.goto(reverse("teams:list"))
    page.get_by_role("link", name="New team").click()
    page.wait_for_url(re.compile(r"/teams/new/$"))
    page.get_by_label("Slug").fill("Data Team")
    page.get_by_label("Display name").fill("Data")
    page.get_by_label("First manager").fill("olga")
    page.get_by_label("requests.cpu").fill("16")
    page.get_by_role("button", name="Create team").click()
    # The form comes back with the reason on the field and what was typed kept.
    page.locator("#err-slug li").wait_for()
    assert "lowercase letters" in page.locator("#err-slug").inner_text()
    assert page.get_by_label("requests.cpu").input_value() == "16"
    assert not Team.objects.exists()

    page.get_by_label("Slug").fill("data")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(re.compile(r"/teams/data/$"))
    assert "Team data is created. olga is its manager." in page.inner_text(".messages")
    assert "requests.cpu=16" in page.inner_text("dl.facts")
    page.screenshot(path=str(tmp_path / "team-created.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive team").click()
    page.locator("#archived-notice").wait_for()
    team = Team.objects.get(slug="data")
    assert team.archived and Membership.objects.get(team=team).user.username == "olga"
    assert list(AuditEvent.objects.filter(team=team).order_by("pk").values_list("action", flat=True)) == [
        "team.create", "membership.add", "team.archive"]
    context.close()
