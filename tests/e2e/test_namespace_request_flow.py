"""Browser test: alice requests a namespace in Chromium, bob approves in his own
browser, a real Celery worker applies it to kubesim, and alice's dashboard turns Ready.

Headless Debian Chromium driven by Playwright against pytest-django's
``live_server`` (transactional database, so the worker process sees the rows).
Screenshots of the main pages go to ``/tmp/screens/`` (outside the repo) for a
human look; they are not compared.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from apps.approvals.models import Request
from apps.namespaces.models import Namespace
from tests.conftest import PASSWORD, wait_for

# Users log in through the real login form: the production password hashers.
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.real_password_hashing]

SCREENS = Path(os.environ.get("PORTAL_SCREENSHOT_DIR", "/tmp/screens"))


def log_in(browser, live_server, username: str):
    """A fresh browser context (own cookies) logged in through the real login form."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto("/")
    assert "/login/" in page.url  # anonymous users are sent to log in
    if username == "alice":
        shot(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def shot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_alice_requests_bob_approves_and_the_dashboard_turns_ready(browser, live_server, celery_worker, kubesim_cluster,
                                                                    team, member, manager, admin_user):
    from playwright.sync_api import expect

    handle, cluster = kubesim_cluster

    # --- alice asks for a namespace -------------------------------------------------
    alice = log_in(browser, live_server, "alice")
    expect(alice.locator(".who__name")).to_have_text("alice")
    expect(alice.locator(".who__role")).to_have_text("Developer")
    alice.get_by_role("link", name="Request a namespace").first.click()
    alice.wait_for_url(re.compile(r"/namespaces/request/$"))

    # Live validation: a bad name is reported next to the field while typing.
    name = alice.get_by_label("Name")
    name.press_sequentially("Bad_Name", delay=20)
    expect(alice.locator("#err-name")).to_contain_text("lower case letters")
    expect(alice.locator("#live-status")).to_contain_text("1 problem to fix")
    shot(alice, "request-form-live-error")

    name.fill("")
    name.press_sequentially("payments-web", delay=20)
    expect(alice.locator("#err-name")).to_be_empty()
    expect(alice.locator("#live-status")).to_contain_text("Looks good")
    alice.get_by_label("Purpose").fill("checkout web frontend")
    # Choosing a tier fills the quota fields (htmx swaps the fieldset).
    alice.get_by_label("Quota tier").select_option("medium")
    expect(alice.locator("#id_quota_limits_memory")).to_have_value("32Gi")
    alice.locator("#id_quota_pods").fill("40")
    alice.get_by_label("Lifetime (hours)").fill("72")
    alice.get_by_role("button", name="Submit request").click()
    alice.wait_for_url(re.compile(r"/requests/\d+/$"))
    req = Request.objects.get(requester=member, name="payments-web")
    assert req.payload["quota"]["pods"] == "40" and req.payload["quota"]["requests.memory"] == "16Gi"
    assert req.payload["ttl_hours"] == 72
    expect(alice.locator(".message--success")).to_contain_text("payments-web")
    expect(alice.get_by_role("heading", name="Exactly what will be applied on approval")).to_be_visible()
    yaml_text = alice.locator("pre.yaml").inner_text()
    assert "kind: Namespace" in yaml_text and "name: payments-web" in yaml_text and "pods: '40'" in yaml_text
    # Four-eyes: alice has no approve button, only cancel.
    expect(alice.get_by_role("button", name="Approve")).to_have_count(0)
    expect(alice.get_by_role("button", name="Cancel this request")).to_be_visible()
    shot(alice, "request-detail-before-approval")

    # --- bob approves from his queue, in his own browser context --------------------
    bob = log_in(browser, live_server, "bob")
    expect(bob.locator(".who__role")).to_have_text("Manager")
    bob.get_by_role("link", name="Approvals").click()
    card = bob.locator(f"#req-{req.pk}")
    expect(card).to_contain_text("payments-web")
    expect(card).to_contain_text("by alice")
    shot(bob, "approval-queue")
    card.get_by_label(f"Reason for #{req.pk}").fill("fine for checkout")
    card.get_by_role("button", name="Approve").click()
    # htmx replaced only the card, and the message arrived out of band.
    expect(bob.locator(f"#req-{req.pk}")).to_contain_text("Decided by bob")
    expect(bob.locator("#messages")).to_contain_text(f"Request #{req.pk} approved.")

    # --- the worker applies it; alice's dashboard polls until Ready -----------------
    alice.goto("/")
    row = alice.locator("tr[id^=ns-]", has=alice.get_by_role("link", name="payments-web"))
    expect(row).to_be_visible()
    expect(row.locator("[data-phase]")).to_have_attribute("data-phase", "Ready", timeout=30000)
    # Settled: the live region stopped polling.
    expect(alice.locator("#live")).to_have_attribute("data-polling", "false")
    expect(alice.locator("#live")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    namespace = Namespace.objects.get(name="payments-web")
    assert namespace.phase == Namespace.Phase.READY
    shot(alice, "dashboard-ready")

    # The timeline tells the whole story.
    alice.goto(f"/requests/{req.pk}/")
    timeline = alice.locator("#timeline")
    expect(timeline).to_contain_text("Submitted by alice")
    expect(timeline).to_contain_text("Approved by bob")
    expect(timeline).to_contain_text("fine for checkout")
    expect(timeline).to_contain_text("Ready")
    shot(alice, "request-detail-ready")

    # The namespace page shows the objects that exist on the cluster.
    alice.get_by_role("link", name="payments-web").first.click()
    expect(alice.locator("#ns-status [data-phase]")).to_have_attribute("data-phase", "Ready")
    expect(alice.locator("#objects-heading")).to_be_visible()
    shot(alice, "namespace-detail")

    from kubernetes import client as k8s

    from tests.conftest import official_client

    with official_client(handle.admin_kubeconfig) as api:
        ns = k8s.CoreV1Api(api).read_namespace("payments-web")
        assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
        quota = k8s.CoreV1Api(api).list_namespaced_resource_quota("payments-web").items[0]
        assert quota.spec.hard["pods"] == "40"

    # --- carol (admin) looks at clusters and the audit history --------------------
    carol = log_in(browser, live_server, "carol")
    carol.get_by_role("link", name="Clusters").click()
    expect(carol.locator("tbody").first).to_contain_text(cluster.name)
    expect(carol.locator("tbody").first).to_contain_text("Healthy")
    shot(carol, "clusters")
    carol.get_by_role("link", name="Audit").click()
    expect(carol.locator("#audit-rows")).to_contain_text("request.approve")
    carol.get_by_label("Actor").fill("bob")
    expect(carol.locator("#audit-rows")).not_to_contain_text("request.submit")
    assert "actor=bob" in carol.url  # hx-push-url keeps the filter in the address
    shot(carol, "audit")


def test_cluster_errors_are_visible_while_retrying_then_the_page_turns_ready(browser, live_server, celery_worker, kubesim_cluster,
                                                                            team, member, manager):
    """A cluster that answers 503 makes the namespace page show the error and the retries, live;
    when the cluster recovers, the same page (no reload) turns Ready and stops polling."""
    from playwright.sync_api import expect

    from apps.approvals.services import request_approve
    from apps.namespaces.services import namespace_request_submit

    handle, cluster = kubesim_cluster
    rule = handle.faults.error_rate(1.0, status=503, verbs=("patch",))
    req = namespace_request_submit(actor=member, team=team, cluster=cluster, name="payments-flaky", purpose="retry demo")
    req = request_approve(actor=manager, request=req)

    alice = log_in(browser, live_server, "alice")
    alice.goto(f"/namespaces/{req.namespace_id}/")
    status = alice.locator("#ns-status")
    expect(status).to_have_attribute("data-polling", "true")
    expect(status).to_contain_text("Last error from the cluster", timeout=30000)
    wait_for(lambda: Namespace.objects.get(pk=req.namespace_id).attempts >= 2, timeout=30, message="a retry")
    expect(status.locator("[data-phase]")).not_to_have_attribute("data-phase", "Ready")
    shot(alice, "namespace-detail-retrying")

    handle.faults.remove(rule["id"])
    expect(alice.locator("#ns-status [data-phase]")).to_have_attribute("data-phase", "Ready", timeout=60000)
    expect(alice.locator("#ns-status")).to_have_attribute("data-polling", "false")
    expect(alice.locator("#ns-status")).not_to_contain_text("Last error from the cluster")


def test_the_browser_fixture_records_console_errors_and_exceptions(browser):
    """The guard every browser test relies on: a page that logs an error or throws is noticed."""
    page = browser.new_page()
    page.set_content("<script>console.error('broken'); setTimeout(() => { throw new Error('boom'); });</script>")
    page.wait_for_timeout(100)

    assert any("console error: broken" in e for e in browser.errors)
    assert any("boom" in e for e in browser.errors)
    browser.errors.clear()  # expected here; any other test with errors fails at teardown
