"""Browser test: a developer asks for more quota, a manager approves it seeing the numbers and the live diff."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_reconcile
from apps.usage.services import sync_cluster
from tests.conftest import official_client
from tests.pages import browser_log_in

pytestmark = [pytest.mark.browser]

QUOTA = {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "50"}


def test_change_quota_flow_in_the_browser(browser, live_server, kubesim_cluster, team, member, manager, monkeypatch, tmp_path):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    handle, cluster = kubesim_cluster
    namespace = Namespace.objects.create(team=team, cluster=cluster, name="payments-web", owner=member, quota=dict(QUOTA))
    assert namespace_reconcile(namespace.pk).outcome == "applied"
    restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                  "seccompProfile": {"type": "RuntimeDefault"}}
    k8s.CoreV1Api(official_client(handle.admin_kubeconfig)).create_namespaced_pod("payments-web", {
        "metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "nginx", "securityContext": restricted,
                                                               "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                                                             "limits": {"cpu": "1", "memory": "1Gi"}}}]}})
    assert sync_cluster(cluster).ok  # a usage sample, so the history chart has a point
    Namespace.objects.filter(pk=namespace.pk).update(quota_used={"requests.cpu": "1", "pods": "12"}, quota_observed_at=timezone.now())

    dev = browser_log_in(browser.new_context(base_url=live_server.url), member)
    dev.goto(reverse("namespaces:detail", args=[namespace.pk]))
    # The usage bars render with their text alternative.
    assert dev.locator('section[aria-labelledby="quota-heading"] .bar[role="img"]').count() >= 2
    assert dev.locator('.bar[aria-label="50% used"]').count() == 1  # requests.cpu 1 of 2
    # The usage history renders as SVG with its text alternative (title and description).
    chart = dev.locator("#usage svg.chart-svg").first
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert dev.locator("#usage svg title").first.text_content().endswith("used")
    assert chart.locator("rect.chart-bar").count() >= 1
    dev.screenshot(path=str(tmp_path / "namespace.png"), full_page=True)
    dev.get_by_role("link", name="Change quota").click()
    dev.wait_for_url(re.compile(r"/quota/$"))
    dev.get_by_label("requests.cpu").fill("3")
    dev.get_by_label("limits.cpu").fill("6")
    dev.get_by_label("pods").fill("10")
    dev.get_by_label("Reason").fill("launch week")
    dev.get_by_role("button", name="Ask for this quota").click()
    dev.wait_for_url(re.compile(r"/requests/\d+/$"))
    req = Request.objects.get(kind="quota")
    assert "requested; a manager of payments will decide" in dev.inner_text(".messages")

    boss = browser_log_in(browser.new_context(base_url=live_server.url), manager)
    boss.goto(reverse("approvals:detail", args=[req.pk]))
    table = boss.locator(".quota-change-table")
    assert "below current use" in table.locator("tr", has_text="pods").inner_text()  # 10 < 12 in use
    assert "+  requests.cpu: '3'" in boss.inner_text(".diff-text")
    boss.screenshot(path=str(tmp_path / "quota-approval.png"), full_page=True)
    boss.get_by_role("button", name="Approve").click()
    boss.wait_for_function("() => document.body.innerText.includes('Approved by bob')")
    assert Namespace.objects.get(pk=namespace.pk).quota["pods"] == "10"
