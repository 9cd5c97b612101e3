"""Quota usage: one list per cluster, bounded history, stale clusters, pages and API with flat query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from kubernetes import client as k8s

from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_reconcile
from apps.quotas.models import TeamBudget
from apps.usage.models import ClusterUsageState, TeamUsageHourly, UsageHourly, UsageSample
from apps.usage.selectors import peak_usage
from apps.usage.services import prune, rollup, sync_cluster
from tests.conftest import official_client
from tests.pages import make_cluster, make_namespace

pytestmark = pytest.mark.django_db
QUOTA = {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "10"}


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a, **k: None)


def pod(name: str, cpu: str, memory: str) -> dict:
    resources = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}
    restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                  "seccompProfile": {"type": "RuntimeDefault"}}
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources,
                                                                 "securityContext": restricted}]}}


@pytest.fixture
def busy(kubesim_cluster, team, member):
    """Three Ready namespaces on kubesim, with pods that use quota, and a namespace someone else made."""
    handle, cluster = kubesim_cluster
    core = k8s.CoreV1Api(official_client(handle.admin_kubeconfig))
    rows = []
    for i in range(3):
        ns = Namespace.objects.create(team=team, cluster=cluster, name=f"payments-{i}", owner=member, quota=dict(QUOTA))
        assert namespace_reconcile(ns.pk).outcome == "applied"
        rows.append(ns)
    core.create_namespaced_pod("payments-0", pod("web", "500m", "1Gi"))
    core.create_namespaced_pod("payments-0", pod("worker", "250m", "512Mi"))
    core.create_namespaced_pod("payments-1", pod("web", "1", "2Gi"))
    # Not the portal's: a quota in a namespace it does not manage is never read into a team's figures.
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_resource_quota("other", {"metadata": {"name": "team-quota"}, "spec": {"hard": {"pods": "5"}}})
    return handle, cluster, core, rows


def test_sync_reads_every_quota_with_one_list_call_and_records_the_figures(busy):
    handle, cluster, _, rows = busy
    handle.request_log.clear()
    result = sync_cluster(cluster)
    assert result.ok and result.quotas == 3 and result.list_calls == 1
    reads = [e for e in handle.request_log.entries() if e.user_agent.startswith("platform-portal")]
    assert [(e.verb, e.path) for e in reads] == [("list", "/api/v1/resourcequotas")]
    assert "labelSelector=app.kubernetes.io/managed-by%3Dplatform-portal" in reads[0].query and "limit=500" in reads[0].query
    first = Namespace.objects.get(pk=rows[0].pk)
    assert first.quota_used["requests.cpu"] == "750m" and first.quota_used["pods"] == "2"
    sample = UsageSample.objects.get(namespace=rows[0])
    assert sample.used["requests.cpu"] == 0.75 and sample.used["requests.memory"] == 1.5 * 2**30 and sample.hard["pods"] == 10.0
    team_hour = TeamUsageHourly.objects.get(cluster=cluster)
    assert team_hour.used["requests.cpu"] == 1.75 and team_hour.namespaces == 3 and team_hour.hard["requests.cpu"] == 6.0
    assert not UsageSample.objects.filter(namespace__name="other").exists()


def test_paginated_list_follows_continue_tokens(busy, monkeypatch):
    handle, cluster, _, _ = busy
    from apps.clusters import kube

    original = kube.list_pages
    monkeypatch.setattr(kube, "list_pages", lambda *a, **k: original(*a, **{**k, "page_size": 2}))
    result = sync_cluster(cluster)
    assert result.quotas == 3 and result.list_calls == 2  # more calls only for continue pages


def test_unreachable_cluster_is_stale_with_its_last_figures_never_zero(busy):
    handle, cluster, _, rows = busy
    assert sync_cluster(cluster).ok
    handle.faults.fail_next(5, status=503)
    result = sync_cluster(cluster)
    assert not result.ok and "unable to handle the request" in result.error or "503" in result.error
    state = ClusterUsageState.objects.get(cluster=cluster)
    assert state.failing_since is not None and state.last_success_at is not None
    assert Namespace.objects.get(pk=rows[0].pk).quota_used["requests.cpu"] == "750m"


def test_history_rolls_up_hourly_and_is_pruned_with_a_fixed_clock(settings, team, member):
    settings.USAGE_RAW_RETENTION_HOURS = 24
    settings.USAGE_HOURLY_RETENTION_DAYS = 30
    ns = make_namespace(team, make_cluster("dev"), "payments-h", owner=member, quota=dict(QUOTA))
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
    # A sample every 15 minutes for 40 days.
    UsageSample.objects.bulk_create([UsageSample(namespace=ns, taken_at=start + timedelta(minutes=15 * i),
                                                 used={"requests.cpu": float(i % 4)}, hard={"requests.cpu": 2.0})
                                     for i in range(40 * 24 * 4)])
    now = start + timedelta(days=40)
    removed = prune(now)
    hours = UsageHourly.objects.filter(namespace=ns)
    assert hours.count() == 30 * 24  # hourly roll-ups for the long window only
    one = hours.order_by("hour").first()
    assert one.max == {"requests.cpu": 3.0} and one.mean == {"requests.cpu": 1.5} and one.samples == 4
    assert UsageSample.objects.filter(namespace=ns).count() == 24 * 4  # raw samples for the short window only
    assert removed["samples"] == (40 * 24 - 24) * 4
    # Bounded: rows kept per namespace for 30 days of 5-minute syncs.
    assert hours.count() + UsageSample.objects.filter(namespace=ns).count() <= 30 * 24 + 24 * 12
    assert rollup(now) == 0  # nothing new to roll up: idempotent


def test_peak_usage_reads_samples_and_hourly_maxima(team, member):
    ns = make_namespace(team, make_cluster("dev"), "payments-p", owner=member)
    now = timezone.now()
    UsageSample.objects.create(namespace=ns, taken_at=now - timedelta(hours=1), used={"requests.cpu": 0.5}, hard={})
    UsageHourly.objects.create(namespace=ns, hour=now - timedelta(days=3), max={"requests.cpu": 1.25}, mean={}, hard={}, samples=12)
    UsageHourly.objects.create(namespace=ns, hour=now - timedelta(days=20), max={"requests.cpu": 9.0}, mean={}, hard={}, samples=12)
    peaks = peak_usage(ns, ["requests.cpu", "requests.memory"], now - timedelta(days=14))
    assert str(peaks["requests.cpu"]) == "1.25" and "requests.memory" not in peaks


def test_sync_usage_command(busy, capsys):
    _, cluster, _, _ = busy
    call_command("sync_usage", "--cluster", "sim")
    assert "sim: 3 quotas in 1 list call(s)" in capsys.readouterr().out
    with pytest.raises(Exception, match='no cluster named "nope"'):
        call_command("sync_usage", "--cluster", "nope")


# --- pages and API ---------------------------------------------------------------------------------


def test_namespace_page_and_api_show_bars_and_history(busy, client_for, api_client_for, member, outsider):
    _, cluster, _, rows = busy
    sync_cluster(cluster)
    page = client_for(member).get(reverse("namespaces:detail", args=[rows[0].pk])).content.decode()
    assert "Usage over time" in page and 'aria-labelledby="usage-requests-cpu-title usage-requests-cpu-desc"' in page
    assert "<title id=\"usage-requests-cpu-title\">requests.cpu used</title>" in page
    week = client_for(member).get(reverse("namespaces:detail", args=[rows[0].pk]) + "?usage=7d").content.decode()
    assert "No usage recorded in this window yet." in week  # nothing rolled up yet
    body = api_client_for(member).get(f"/api/v1/namespaces/{rows[0].pk}/usage/").json()
    assert body["used"]["requests.cpu"] == 0.75 and body["hard"]["pods"] == 10.0 and len(body["history"]) == 1
    assert api_client_for(member).get(f"/api/v1/namespaces/{rows[0].pk}/usage/?window=1y").status_code == 400
    assert api_client_for(outsider).get(f"/api/v1/namespaces/{rows[0].pk}/usage/").status_code == 404


def test_team_usage_against_the_budget_and_cluster_page_for_admins(busy, client_for, api_client_for, member, outsider, admin_user):
    _, cluster, _, _ = busy
    TeamBudget.objects.create(team=busy[3][0].team, cluster=cluster, hard={"requests.cpu": "8"})
    cluster.capacity = {"requests.cpu": "10"}
    cluster.save(update_fields=["capacity"])
    sync_cluster(cluster)
    body = api_client_for(member).get("/api/v1/teams/payments/usage/").json()
    assert body == [{"cluster": "sim", "namespaces": 3, "hard": body[0]["hard"], "used": body[0]["used"], "budget": {"requests.cpu": 8.0},
                     "synced_at": body[0]["synced_at"], "stale_since": None, "history": body[0]["history"]}]
    assert body[0]["hard"]["requests.cpu"] == 6.0 and body[0]["used"]["requests.cpu"] == 1.75 and len(body[0]["history"]) == 1
    page = client_for(member).get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "Quota and usage per cluster" in page and 'aria-label="75% of budget allocated"' in page
    assert api_client_for(outsider).get("/api/v1/teams/payments/usage/").status_code == 404
    assert api_client_for(member).get("/api/v1/clusters/sim/usage/").status_code == 404
    figures = api_client_for(admin_user).get("/api/v1/clusters/sim/usage/").json()
    assert figures["allocated"]["requests.cpu"] == 6.0 and figures["capacity"] == {"requests.cpu": 10.0}
    assert figures["top_teams"][0]["team"] == "payments"
    clusters_page = client_for(admin_user).get(reverse("clusters:list")).content.decode()
    assert "Allocation on sim" in clusters_page and 'aria-label="60% of capacity allocated"' in clusters_page


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_team_usage_queries_do_not_grow_with_namespaces(client_for, api_client_for, member, team):
    cluster = make_cluster("dev")
    page, api = client_for(member), api_client_for(member)
    api.get("/api/v1/")
    counts = []
    for total in (5, 50):
        Namespace.objects.bulk_create([Namespace(team=team, cluster=cluster, name=f"ns-{total}-{i}", phase="Ready", quota=dict(QUOTA),
                                                 quota_used={"requests.cpu": "1"}) for i in range(total - Namespace.objects.count())])
        counts.append((_queries(api, "/api/v1/teams/payments/usage/"), _queries(page, reverse("teams:detail", args=["payments"]))))
    assert counts[0] == counts[1], counts
