"""Browser test: the header's inbox badge counts unread notifications, opening one marks it read and
follows its link; the dashboard counts a namespace's expiry down and Extend asks for more time.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.approvals.models import Request
from apps.namespaces import tasks as ns_tasks
from apps.notifications.models import Notification
from apps.notifications.services import notifications_deliver
from tests.pages import browser_log_in, make_cluster, make_namespace

pytestmark = [pytest.mark.browser]


def test_inbox_badge_open_and_extend_in_the_browser(browser, live_server, team, member, manager, monkeypatch, tmp_path):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    namespace = make_namespace(team, make_cluster("dev"), "payments-dev", owner=member,
                               expires_at=timezone.now() + timedelta(hours=20, minutes=30))
    notifications_deliver("namespace.expiring", namespace.pk, expires_at=namespace.expires_at.isoformat(), hours=24)

    dev = browser_log_in(browser.new_context(base_url=live_server.url), member)
    badge = dev.locator("#inbox-badge .inbox-count")
    assert badge.get_attribute("data-unread") == "1"
    # The dashboard counts the expiry down (portal.js rewrites the server's "expires in 20 h").
    countdown = dev.locator(f"#ns-{namespace.pk} [data-countdown]")
    dev.wait_for_function("el => /expires in 20 h \\d+ min/.test(el.textContent)", arg=countdown.element_handle())
    dev.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    dev.get_by_role("link", name=re.compile("^Inbox")).click()
    dev.wait_for_url(re.compile(r"/notifications/$"))
    item = dev.locator(".inbox__item").first
    assert "payments-dev expires in less than 24 h" in item.text_content()
    item.get_by_role("button", name="Open").click()
    dev.wait_for_url(re.compile(rf"/namespaces/{namespace.pk}/$"))
    assert dev.locator("#inbox-badge .inbox-count").count() == 0
    assert Notification.objects.get(user=member).read_at is not None

    dev.get_by_role("link", name="Extend").click()
    dev.get_by_label("Keep it for (hours from now)").fill("3")
    dev.get_by_role("button", name="Ask for more time").click()
    dev.locator(".field-errors li", has_text="already lives until").wait_for()
    dev.get_by_label("Keep it for (hours from now)").fill("168")
    dev.get_by_label("Reason").fill("launch week")
    dev.get_by_role("button", name="Ask for more time").click()
    dev.wait_for_url(re.compile(r"/requests/\d+/$"))
    assert "a manager of payments will decide" in dev.content()
    request = Request.objects.get(kind=Request.Kind.EXTENSION)
    assert request.payload["ttl_hours"] == 168 and request.payload["reason"] == "launch week"

    # The manager's badge counts the new request (delivered in-process: the test runs tasks eagerly).
    notifications_deliver("request.submitted", request.pk)
    boss = browser_log_in(browser.new_context(base_url=live_server.url), manager)
    assert boss.locator("#inbox-badge .inbox-count").get_attribute("data-unread") == "2"  # the expiry warning and the request
    boss.screenshot(path=str(tmp_path / "manager.png"), full_page=True)
