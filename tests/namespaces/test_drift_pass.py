"""The list-based drift pass: one label-selected, paginated list per managed kind and cluster, compared in
memory; no per-namespace GET and no write for a fleet in order; hand edits found and repaired.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from kubernetes import client as k8s

from apps.namespaces import drift, services, tasks
from apps.namespaces.models import Namespace
from tests.conftest import official_client
from tests.pages import make_namespace

pytestmark = pytest.mark.django_db
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture
def fleet(kubesim_cluster, team, member, manager):
    """Three namespaces applied on kubesim (manager and member bound in each)."""
    handle, cluster = kubesim_cluster
    rows = []
    for i in range(3):
        row = make_namespace(team, cluster, f"fleet-{i}", phase=Namespace.Phase.PENDING, owner=member, quota=dict(QUOTA))
        assert services.namespace_reconcile(row.pk).outcome == "applied"
        rows.append(row)
    Namespace.objects.update(quota_observed_at=None)
    handle.request_log.clear()
    return handle, cluster, rows


def test_a_fleet_in_order_costs_one_list_per_kind_and_no_write(fleet):
    handle, cluster, rows = fleet
    result = drift.cluster_drift_pass(cluster)
    assert result.error == "" and result.checked == 3 and result.drifted == []
    assert result.list_calls == len(drift.MANAGED_KINDS)
    assert handle.request_log.writes() == []
    assert {r.verb for r in handle.request_log.entries()} == {"list"}  # no per-namespace GET
    for row in Namespace.objects.filter(pk__in=[r.pk for r in rows]):
        assert row.quota_observed_at is not None and "requests.cpu" in row.quota_used


def test_list_calls_are_kinds_times_pages(fleet, monkeypatch):
    handle, cluster, rows = fleet
    monkeypatch.setattr(drift, "PAGE_SIZE", 2)
    result = drift.cluster_drift_pass(cluster)
    # 3 namespaces, 3 quotas, 3 limit ranges: 2 pages each; 6 network policies: 3 pages; 6 role bindings
    # (manager and member in each): 3 pages.
    assert result.checked == 3 and result.drifted == [] and result.list_calls == 2 + 2 + 2 + 3 + 3


def test_hand_edits_are_found_and_the_reconcile_repairs_them(fleet):
    handle, cluster, rows = fleet
    with official_client(handle.admin_kubeconfig) as api:
        core = k8s.CoreV1Api(api)
        core.patch_namespaced_resource_quota("team-quota", "fleet-1", {"spec": {"hard": {"requests.cpu": "64"}}})
        k8s.RbacAuthorizationV1Api(api).create_namespaced_role_binding("fleet-2", {
            "metadata": {"name": "portal-intruder-admin", "labels": {"app.kubernetes.io/managed-by": "platform-portal"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "portal:intruder"}]})
    result = drift.cluster_drift_pass(cluster)
    assert sorted(result.drifted) == [rows[1].pk, rows[2].pk]
    assert services.namespace_reconcile(rows[1].pk, check_drift=True).outcome == "repaired"
    assert services.namespace_reconcile(rows[2].pk, check_drift=True).outcome == "repaired"
    assert drift.cluster_drift_pass(cluster).drifted == []


def test_the_resync_runs_one_pass_per_cluster_in_the_background(fleet, monkeypatch, settings):
    handle, cluster, rows = fleet
    Namespace.objects.update(applied_at=timezone.now() - timedelta(hours=1))  # due for a drift check
    sent = []
    monkeypatch.setattr(tasks.drift_pass, "apply_async", lambda args, queue=None: sent.append((args, queue)))
    counts = tasks.resync()
    assert counts["drift"] == 3
    assert [(args[0], sorted(args[1]), queue) for args, queue in sent] == [
        (cluster.pk, sorted(r.pk for r in rows), settings.CELERY_BACKGROUND_QUEUE)]


def test_the_pass_task_hands_drifted_rows_to_the_reconcile_and_never_runs_twice_at_once(fleet, monkeypatch):
    handle, cluster, rows = fleet
    with official_client(handle.admin_kubeconfig) as api:
        k8s.CoreV1Api(api).patch_namespaced_resource_quota("team-quota", "fleet-0", {"spec": {"hard": {"limits.cpu": "99"}}})
    enqueued = []
    monkeypatch.setattr(tasks.reconcile_namespace, "apply_async", lambda args, kwargs=None, queue=None: enqueued.append(args[0]))
    from django.core.cache import cache

    cache.delete(f"portal:drift-pass:{cluster.pk}")
    assert tasks.drift_pass(cluster.pk) == {"checked": 3, "drifted": 1, "list_calls": 5, "error": ""}
    assert enqueued == [rows[0].pk]
    cache.add(f"portal:drift-pass:{cluster.pk}", 1, timeout=60)
    try:
        assert tasks.drift_pass(cluster.pk) == {"skipped": True}
    finally:
        cache.delete(f"portal:drift-pass:{cluster.pk}")


def test_the_snapshot_feeds_the_usage_history_so_the_usage_sync_skips_the_cluster(fleet):
    from apps.usage import services as usage
    from apps.usage import tasks as usage_tasks
    from apps.usage.models import ClusterUsageState, UsageSample

    handle, cluster, rows = fleet
    assert not UsageSample.objects.exists() and not usage.observed_recently(cluster.pk)
    drift.cluster_drift_pass(cluster)
    assert UsageSample.objects.filter(namespace_id__in=[r.pk for r in rows]).count() == 3
    state = ClusterUsageState.objects.get(cluster=cluster)
    assert state.quotas_seen == 3 and state.list_calls == len(drift.MANAGED_KINDS)
    assert usage.observed_recently(cluster.pk)
    assert usage_tasks.sync_all() == 0  # the fleet is not listed a second time
