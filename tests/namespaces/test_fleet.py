"""Fleet behaviour: interactive work never queues behind background work, one retry chain per row, a
cluster that comes back is re-driven at once, and quiet logs (a no-op logs nothing at INFO).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.clusters.models import Cluster
from apps.clusters.services import cluster_check_health
from apps.namespaces import services, tasks
from apps.namespaces.models import Namespace
from tests.conftest import wait_for
from tests.pages import make_cluster, make_namespace

Phase = Namespace.Phase
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


# --- one chain per row ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_row_waiting_on_its_retry_is_held_so_the_resync_starts_no_second_chain(team):
    dev = make_cluster("dev")
    now = timezone.now()
    waiting = make_namespace(team, dev, "waiting", phase=Phase.PROVISIONING, next_attempt_at=now + timedelta(seconds=5))
    assert services.namespace_hold_for_retry(waiting.pk, "task-1", retry_in=5)
    # Due (the retry's time has come) but held by the retry's task: the resync leaves it to that task.
    later = now + timedelta(seconds=6)
    assert waiting.pk not in services.namespaces_to_resync(later)["reconcile"]
    # The retry (same task id) takes its row over; another task may not.
    assert services.namespace_claim(waiting.pk, "task-1")
    assert not services.namespace_claim(waiting.pk, "task-2")
    # A lost retry (its worker died): once the hold expires, the resync takes over.
    held_until = Namespace.objects.get(pk=waiting.pk).claimed_until
    assert waiting.pk in services.namespaces_to_resync(held_until + timedelta(seconds=1))["reconcile"]


@pytest.mark.django_db
def test_another_tasks_claim_is_not_taken_for_a_retry(team):
    dev = make_cluster("dev")
    row = make_namespace(team, dev, "busy", phase=Phase.PROVISIONING)
    assert services.namespace_claim(row.pk, "applying-now")
    assert not services.namespace_hold_for_retry(row.pk, "someone-else", retry_in=5)
    assert Namespace.objects.get(pk=row.pk).claimed_by == "applying-now"


# --- fast recovery ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cluster_reachable_again_re_drives_its_waiting_rows_at_once(kubesim_cluster, team, monkeypatch):
    handle, cluster = kubesim_cluster
    other = make_cluster("other")
    later = timezone.now() + timedelta(seconds=280)
    waiting = make_namespace(team, cluster, "waiting", phase=Phase.PROVISIONING, next_attempt_at=later,
                             claimed_by="retry-task", claimed_until=later + timedelta(minutes=3))
    leaving = make_namespace(team, cluster, "leaving", phase=Phase.TERMINATING, next_attempt_at=later)
    elsewhere = make_namespace(team, other, "elsewhere", phase=Phase.PROVISIONING, next_attempt_at=later)
    sent = []
    monkeypatch.setattr(tasks.reconcile_namespace, "apply_async", lambda args, countdown=0, **kw: sent.append(("reconcile", args[0])))
    monkeypatch.setattr(tasks.delete_namespace, "apply_async", lambda args, countdown=0, **kw: sent.append(("delete", args[0])))
    monkeypatch.setattr(tasks.redrive_cluster, "delay", lambda cluster_id: tasks.redrive_cluster(cluster_id))
    from django.core.cache import cache

    cache.delete(f"portal:redrive:{cluster.pk}")

    Cluster.objects.filter(pk=cluster.pk).update(health=Cluster.Health.UNREACHABLE)
    cluster.refresh_from_db()
    assert cluster_check_health(cluster).health == Cluster.Health.HEALTHY  # kubesim answers
    assert sorted(sent) == [("delete", leaving.pk), ("reconcile", waiting.pk)]
    row = Namespace.objects.get(pk=waiting.pk)
    assert row.next_attempt_at <= timezone.now() and row.claimed_by == ""
    assert Namespace.objects.get(pk=elsewhere.pk).next_attempt_at == later  # another cluster's rows wait on
    # A second healthy check (or a burst of recoveries) re-drives nothing more for a while.
    sent.clear()
    assert cluster_check_health(cluster).health == Cluster.Health.HEALTHY
    assert sent == []


# --- queues by urgency ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_resync_and_fleet_passes_enqueue_on_the_background_queue(team, settings, monkeypatch):
    dev = make_cluster("dev")
    make_namespace(team, dev, "pending", phase=Phase.PENDING)
    queues = []
    monkeypatch.setattr(tasks.reconcile_namespace, "apply_async", lambda *a, queue=None, **kw: queues.append(queue))
    tasks.resync()
    assert queues == [settings.CELERY_BACKGROUND_QUEUE]
    beat = settings.CELERY_BEAT_SCHEDULE
    assert all(entry.get("options", {}).get("queue") == settings.CELERY_BACKGROUND_QUEUE
               for name, entry in beat.items() if name != "check-cluster-health")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_approval_is_ready_within_2_s_while_a_fleet_resync_fills_the_background_queue(
        kubesim_cluster, celery_worker, api_client_for, member, manager, team):
    handle, cluster = kubesim_cluster
    # A fleet-wide pass's worth of background work: 3,000 drift checks queued ahead.
    fleet = [make_namespace(team, cluster, f"fleet-{i}") for i in range(3)]
    for i in range(3000):
        tasks.reconcile_namespace.apply_async((fleet[i % 3].pk,), {"check_drift": True}, queue=celery_worker.background_queue)
    created = api_client_for(member).post("/api/v1/namespace-requests/", {
        "cluster": "sim", "team": "payments", "name": "urgent", "quota": QUOTA}, format="json")
    assert created.status_code == 201
    started = time.monotonic()
    approved = api_client_for(manager).post(f"/api/v1/requests/{created.json()['id']}/approve/", {}, format="json")
    assert approved.status_code == 200
    wait_for(lambda: Namespace.objects.filter(name="urgent", phase=Phase.READY).exists(), timeout=10, interval=0.02,
             message="the approved namespace Ready")
    took = time.monotonic() - started
    import redis
    from django.conf import settings

    still_queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(celery_worker.background_queue)
    assert still_queued > 1000, "the background work should still be waiting: the approval went ahead of it"
    assert took < 2.0, f"approval -> Ready took {took:.2f} s behind background work"


# --- quiet logs -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_no_op_reconcile_logs_nothing_at_info_and_a_change_logs_one_line(kubesim_cluster, team, member, caplog):
    handle, cluster = kubesim_cluster
    namespace = make_namespace(team, cluster, "quiet", phase=Phase.PENDING, owner=member)
    with caplog.at_level(logging.INFO, logger="apps.namespaces"):
        assert tasks.reconcile_namespace.apply(args=(namespace.pk,)).get() == "applied"
        changed = [r for r in caplog.records if r.name.startswith("apps.namespaces")]
        caplog.clear()
        assert tasks.reconcile_namespace.apply(args=(namespace.pk,)).get() == "unchanged"
        assert tasks.reconcile_namespace.apply(args=(namespace.pk,), kwargs={"check_drift": True}).get() == "unchanged"
        quiet = [r for r in caplog.records if r.name.startswith("apps.namespaces") and r.levelno >= logging.INFO]
    assert [r.getMessage().split(" in ")[0] for r in changed] == [f"namespace {namespace.pk} applied"]
    assert quiet == []


# --- a retry writes only what the failed attempt did not --------------------------------------------------


@pytest.mark.django_db
def test_a_retry_of_the_same_bundle_applies_only_the_objects_not_yet_written(kubesim_cluster, team, member):
    handle, cluster = kubesim_cluster
    namespace = make_namespace(team, cluster, "partial", phase=Phase.PENDING, owner=member, quota=dict(QUOTA))
    handle.faults.fail_next(1, status=503, verbs=("patch",), resources=("limitranges",))
    handle.request_log.clear()
    assert services.namespace_reconcile(namespace.pk).outcome == "retry"
    row = Namespace.objects.get(pk=namespace.pk)
    assert row.partial_apply["done"] == ["Namespace/partial", "ResourceQuota/partial/team-quota"]
    assert services.namespace_reconcile(namespace.pk).outcome == "applied"
    patches = [(w.resource, w.status) for w in handle.request_log.writes() if w.verb == "patch"]
    # Namespace and ResourceQuota once (first attempt), LimitRange twice (refused, then applied), the rest once.
    resources = [r for r, _ in patches]
    assert resources.count("namespaces") == 1 and resources.count("resourcequotas") == 1
    assert [s for r, s in patches if r == "limitranges"] == [503, 201]
    assert resources.count("networkpolicies") == 2
    assert Namespace.objects.get(pk=namespace.pk).partial_apply == {}
