"""Reconcile, delete and resync services on PostgreSQL against kubesim (least-privilege ServiceAccount)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.audit.models import AuditEvent
from apps.namespaces import services, tasks
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import bundle_for_namespace
from apps.namespaces.services import namespace_request_submit
from apps.teams.models import Membership
from apps.teams.services import membership_change_role, membership_remove
from tests.conftest import make_user, official_client

Phase = Namespace.Phase
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture
def approve(member, manager, team, django_capture_on_commit_callbacks):
    """``approve(cluster, name)`` -> an approved Namespace row (the reconcile task is NOT run)."""

    def run(cluster, name="payments-dev", quota=None) -> Namespace:
        request = namespace_request_submit(actor=member, team=team, cluster=cluster, name=name, purpose="tests", quota=quota or dict(QUOTA))
        with django_capture_on_commit_callbacks(execute=False):
            request = request_approve(actor=manager, request=request)
        return request.namespace

    return run


@pytest.fixture
def admin_api(kubesim_cluster):
    with official_client(kubesim_cluster[0].admin_kubeconfig) as api:
        yield api


def request_of(namespace) -> Request:
    return Request.objects.get(namespace=namespace)


# --- Happy path ----------------------------------------------------------------------------


def test_reconcile_applies_the_bundle_and_records_ready(kubesim_cluster, approve, admin_api):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    handle.request_log.clear()

    result = services.namespace_reconcile(namespace.pk)

    namespace.refresh_from_db()
    objects = bundle_for_namespace(namespace)
    assert result.outcome == "applied"
    assert (namespace.phase, namespace.last_error, namespace.attempts) == (Phase.READY, "", 1)
    assert namespace.observed_hash and namespace.applied_at and namespace.claimed_until is None and namespace.claimed_by == ""
    assert namespace.quota_used == {"limits.cpu": "0", "limits.memory": "0", "requests.cpu": "0", "requests.memory": "0"}
    assert namespace.quota_observed_at is not None
    # a create that fails if the name exists (never adopt), then exactly one write per bundle object
    writes = handle.request_log.writes()
    assert (writes[0].verb, writes[0].resource, writes[0].name, writes[0].status) == ("create", "namespaces", namespace.name, 201)
    assert len(writes) == len(objects) + 1 and writes[1].path == f"/api/v1/namespaces/{namespace.name}"
    assert namespace.cluster_uid == k8s.CoreV1Api(admin_api).read_namespace(namespace.name).metadata.uid
    assert k8s.CoreV1Api(admin_api).read_namespace(namespace.name).metadata.labels["portal.platform.io/team"] == "payments"
    request = request_of(namespace)
    assert request.state == Request.State.DONE and request.started_at and request.finished_at
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-4:] == ["namespace.provision", "request.applying", "namespace.ready", "request.done"]


def test_reconciling_an_unchanged_namespace_talks_to_nobody(kubesim_cluster, approve):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    audit_count = AuditEvent.objects.count()
    handle.request_log.clear()

    result = services.namespace_reconcile(namespace.pk)

    assert result.outcome == "unchanged"
    assert handle.request_log.entries() == []  # not a single request, let alone a write
    assert AuditEvent.objects.count() == audit_count


def test_removed_member_loses_the_binding_and_nothing_else_is_touched(kubesim_cluster, approve, member, manager, viewer, admin_api):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    rbac = k8s.RbacAuthorizationV1Api(admin_api)
    # a binding somebody made by hand (no portal label) must survive the prune
    rbac.create_namespaced_role_binding(namespace.name, {
        "metadata": {"name": "hand-made"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}]})
    membership_remove(actor=manager, membership=Membership.objects.get(user=viewer))
    handle.request_log.clear()

    result = services.namespace_reconcile(namespace.pk)

    assert result.outcome == "applied" and result.pruned == ["portal-victor-view"]
    names = sorted(b.metadata.name for b in rbac.list_namespaced_role_binding(namespace.name).items)
    assert names == ["hand-made", "portal-alice-edit", "portal-bob-admin"]
    deletes = [w for w in handle.request_log.writes() if w.verb == "delete"]
    assert [w.path.rsplit("/", 1)[1] for w in deletes] == ["portal-victor-view"]


def test_role_change_replaces_the_binding(kubesim_cluster, approve, member, manager, admin_api):
    _, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    membership_change_role(actor=manager, membership=Membership.objects.get(user=member), role=Membership.Role.VIEWER)

    services.namespace_reconcile(namespace.pk)

    names = sorted(b.metadata.name for b in k8s.RbacAuthorizationV1Api(admin_api).list_namespaced_role_binding(namespace.name).items)
    assert names == ["portal-alice-view", "portal-bob-admin"]


# --- Errors ------------------------------------------------------------------------------------


def test_retryable_error_keeps_provisioning_with_the_error_then_becomes_ready(kubesim_cluster, approve):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    handle.faults.fail_next(1, status=503, verbs=("patch",))

    first = services.namespace_reconcile(namespace.pk)

    namespace.refresh_from_db()
    assert first.outcome == "retry" and first.retry_in == 1.0
    assert namespace.phase == Phase.PROVISIONING and namespace.attempts == 1
    assert "the server is currently unable to handle the request" in namespace.last_error
    assert namespace.next_attempt_at > timezone.now() and namespace.claimed_by == ""
    assert request_of(namespace).state == Request.State.APPLYING

    second = services.namespace_reconcile(namespace.pk)

    namespace.refresh_from_db()
    assert second.outcome == "applied"
    assert (namespace.phase, namespace.last_error, namespace.attempts, namespace.next_attempt_at) == (Phase.READY, "", 2, None)
    assert request_of(namespace).state == Request.State.DONE


def test_refused_apply_fails_the_namespace_and_the_request_with_the_clusters_message(kubesim_cluster, approve):
    _, cluster = kubesim_cluster
    namespace = approve(cluster)
    Namespace.objects.filter(pk=namespace.pk).update(quota={"limits.cpu": "lots"})  # bypasses validation on purpose

    result = services.namespace_reconcile(namespace.pk)

    namespace.refresh_from_db()
    request = request_of(namespace)
    assert result.outcome == "failed"
    assert namespace.phase == Phase.FAILED and "lots" in namespace.last_error and namespace.next_attempt_at is None
    assert request.state == Request.State.FAILED and request.last_error == namespace.last_error
    assert AuditEvent.objects.filter(action="request.failed", target_id=str(request.pk)).exists()


def test_cluster_errors_are_retried_without_limit_and_acked_late():
    for task in (tasks.reconcile_namespace, tasks.delete_namespace):
        assert task.max_retries is None and task.acks_late is True


def test_backoff_doubles_and_is_capped(settings):
    settings.RECONCILE_MAX_BACKOFF_SECONDS = 30

    assert [services.backoff_seconds(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [1, 2, 4, 8, 16, 30, 30]


# --- Claims ------------------------------------------------------------------------------------


def test_two_claims_one_wins(kubesim_cluster, approve):
    namespace = approve(kubesim_cluster[1])

    assert services.namespace_claim(namespace.pk, "worker-a") is True
    assert services.namespace_claim(namespace.pk, "worker-b") is False
    assert services.namespace_claim(namespace.pk, "worker-a") is True  # a redelivered task keeps its id


def test_an_expired_claim_can_be_taken_over(kubesim_cluster, approve):
    namespace = approve(kubesim_cluster[1])
    services.namespace_claim(namespace.pk, "dead-worker")
    Namespace.objects.filter(pk=namespace.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))

    assert services.namespace_claim(namespace.pk, "new-worker") is True


def test_reconcile_of_a_claimed_namespace_is_busy_and_calls_nobody(kubesim_cluster, approve):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_claim(namespace.pk, "someone-else")
    handle.request_log.clear()

    assert services.namespace_reconcile(namespace.pk).outcome == "busy"
    assert handle.request_log.entries() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_on_postgres_exactly_one_wins(kubesim_cluster, member, manager, team):
    request = namespace_request_submit(actor=member, team=team, cluster=kubesim_cluster[1], name="race", quota=dict(QUOTA))
    namespace = request_approve(actor=manager, request=request).namespace  # transactional: the task would run on commit
    Namespace.objects.filter(pk=namespace.pk).update(claimed_until=None, claimed_by="")
    barrier = threading.Barrier(8)
    results = []

    def claim(i):
        try:
            barrier.wait()
            results.append(services.namespace_claim(namespace.pk, f"worker-{i}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False] * 7 + [True]


# --- Drift ---------------------------------------------------------------------------------------


def test_resync_detects_and_repairs_a_hand_edited_quota(kubesim_cluster, approve, admin_api):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    core = k8s.CoreV1Api(admin_api)
    core.patch_namespaced_resource_quota("team-quota", namespace.name, {"spec": {"hard": {"limits.cpu": "64"}}})

    assert services.namespace_reconcile(namespace.pk).outcome == "unchanged"  # hash-only path does not look
    result = services.namespace_reconcile(namespace.pk, check_drift=True)

    namespace.refresh_from_db()
    assert result.outcome == "repaired" and result.drift == [f"ResourceQuota/{namespace.name}/team-quota"]
    assert core.read_namespaced_resource_quota("team-quota", namespace.name).spec.hard["limits.cpu"] == "2"
    assert namespace.phase == Phase.READY and namespace.drift_repaired_at is not None
    assert AuditEvent.objects.get(action="namespace.drift_repaired").after == {"drift": [f"ResourceQuota/{namespace.name}/team-quota"]}


def test_drift_check_without_drift_only_reads(kubesim_cluster, approve):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    handle.request_log.clear()

    result = services.namespace_reconcile(namespace.pk, check_drift=True)

    assert result.outcome == "unchanged"
    assert handle.request_log.writes() == [] and handle.request_log.entries()  # it did read


def test_drift_check_removes_a_stray_portal_binding(kubesim_cluster, approve, admin_api):
    _, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    rbac = k8s.RbacAuthorizationV1Api(admin_api)
    rbac.create_namespaced_role_binding(namespace.name, {
        "metadata": {"name": "portal-mallory-admin", "labels": {"app.kubernetes.io/managed-by": "platform-portal"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "portal:mallory"}]})

    result = services.namespace_reconcile(namespace.pk, check_drift=True)

    assert result.outcome == "repaired" and result.pruned == ["portal-mallory-admin"]
    assert "portal-mallory-admin" not in [b.metadata.name for b in rbac.list_namespaced_role_binding(namespace.name).items]


# --- Delete ----------------------------------------------------------------------------------------


def test_delete_marks_terminating_then_the_worker_deletes_it_on_the_cluster(kubesim_cluster, approve, manager, admin_api, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.namespace_delete(actor=manager, namespace=namespace)
    namespace.refresh_from_db()
    assert namespace.phase == Phase.TERMINATING and len(callbacks) == 1
    assert AuditEvent.objects.filter(action="namespace.delete", actor=manager).exists()

    result = services.namespace_finalize_delete(namespace.pk)

    namespace.refresh_from_db()
    assert result.outcome == "applied"
    assert namespace.phase == Phase.DELETED and namespace.deleted_at is not None
    live = k8s.CoreV1Api(admin_api).list_namespace().items
    assert namespace.name not in [n.metadata.name for n in live if not n.metadata.deletion_timestamp]
    assert services.namespace_reconcile(namespace.pk).outcome == "gone"


def test_delete_when_the_cluster_already_lost_it_counts_as_done(kubesim_cluster, approve, manager, admin_api, django_capture_on_commit_callbacks):
    _, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    k8s.CoreV1Api(admin_api).delete_namespace(namespace.name)
    with django_capture_on_commit_callbacks(execute=False):
        services.namespace_delete(actor=manager, namespace=namespace)
    from apps.clusters import kube

    namespace.refresh_from_db()
    kube.delete_namespace(cluster, namespace.name, ownership=services.namespace_ownership(namespace))  # make the cluster answer 404 next

    assert services.namespace_finalize_delete(namespace.pk).outcome == "applied"
    namespace.refresh_from_db()
    assert namespace.phase == Phase.DELETED


def test_members_and_outsiders_cannot_delete(kubesim_cluster, approve, member, outsider):
    namespace = approve(kubesim_cluster[1])

    for user in (member, outsider):
        with pytest.raises(PermissionDenied):
            services.namespace_delete(actor=user, namespace=namespace)
    namespace.refresh_from_db()
    assert namespace.phase == Phase.PENDING


def test_deleting_twice_is_a_no_op(kubesim_cluster, approve, manager, admin_user, django_capture_on_commit_callbacks):
    namespace = approve(kubesim_cluster[1])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.namespace_delete(actor=manager, namespace=namespace)
        services.namespace_delete(actor=admin_user, namespace=namespace)

    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="namespace.delete").count() == 1
    # never applied: its request will not be applied any more either
    assert request_of(namespace).state == Request.State.FAILED


def test_delete_retries_when_the_cluster_errors(kubesim_cluster, approve, manager, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    services.namespace_reconcile(namespace.pk)
    with django_capture_on_commit_callbacks(execute=False):
        services.namespace_delete(actor=manager, namespace=namespace)
    handle.faults.fail_next(1, status=503, verbs=("delete",))

    assert services.namespace_finalize_delete(namespace.pk).outcome == "retry"
    namespace.refresh_from_db()
    assert namespace.phase == Phase.TERMINATING and "unable to handle" in namespace.last_error and namespace.next_attempt_at

    assert services.namespace_finalize_delete(namespace.pk).outcome == "applied"


# --- Resync and tasks (eager, as in the demo without a broker) ---------------------------------------


def test_resync_picks_what_is_due_and_free(kubesim_cluster, approve):
    cluster = kubesim_cluster[1]
    now = timezone.now()
    pending = approve(cluster, "pending")
    later = approve(cluster, "later")
    Namespace.objects.filter(pk=later.pk).update(phase=Phase.PROVISIONING, next_attempt_at=now + timedelta(minutes=5))
    held = approve(cluster, "held")
    Namespace.objects.filter(pk=held.pk).update(claimed_until=now + timedelta(minutes=5), claimed_by="w")
    fresh = approve(cluster, "fresh")
    Namespace.objects.filter(pk=fresh.pk).update(phase=Phase.READY, applied_at=now, quota_observed_at=now)
    stale = approve(cluster, "stale")
    Namespace.objects.filter(pk=stale.pk).update(phase=Phase.READY, applied_at=now - timedelta(hours=1), quota_observed_at=now - timedelta(hours=1))
    leaving = approve(cluster, "leaving")
    Namespace.objects.filter(pk=leaving.pk).update(phase=Phase.TERMINATING)
    failed = approve(cluster, "failed")
    Namespace.objects.filter(pk=failed.pk).update(phase=Phase.FAILED)

    work = services.namespaces_to_resync(now)

    assert work == {"reconcile": [pending.pk], "drift": [stale.pk], "delete": [leaving.pk]}


def test_eager_task_does_not_retry_inline_and_the_resync_finishes_the_job(kubesim_cluster, approve, eager):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    handle.faults.fail_next(1, status=503, verbs=("patch",))

    assert tasks.reconcile_namespace.delay(namespace.pk).get() == "retry"
    namespace.refresh_from_db()
    assert namespace.phase == Phase.PROVISIONING and namespace.next_attempt_at
    assert tasks.resync.delay().get() == {"reconcile": 0, "drift": 0, "delete": 0}  # not due yet

    Namespace.objects.filter(pk=namespace.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.resync.delay().get()["reconcile"] == 1

    namespace.refresh_from_db()
    assert namespace.phase == Phase.READY
    assert set(AuditEvent.objects.filter(action__in=["namespace.ready", "request.done"]).values_list("via", flat=True)) == {"worker"}


def test_reconcile_team_re_drives_every_live_namespace(kubesim_cluster, approve, manager, team, eager, admin_api):
    _, cluster = kubesim_cluster
    first, second = approve(cluster, "one"), approve(cluster, "two")
    services.namespace_reconcile(first.pk)
    services.namespace_reconcile(second.pk)
    newcomer = make_user("nina")
    Membership.objects.create(user=newcomer, team=team, role=Membership.Role.MEMBER)

    assert tasks.reconcile_team.delay(team.pk).get() == 2

    rbac = k8s.RbacAuthorizationV1Api(admin_api)
    for ns in ("one", "two"):
        assert "portal-nina-edit" in [b.metadata.name for b in rbac.list_namespaced_role_binding(ns).items]


def test_health_task_records_health_and_version(kubesim_cluster, eager):
    handle, cluster = kubesim_cluster
    from apps.clusters.models import Cluster
    from apps.clusters.tasks import check_all_health

    handle.faults.fail_next(1, status=503, resources=())
    assert check_all_health.delay().get() == 0
    cluster.refresh_from_db()
    assert cluster.health == Cluster.Health.UNREACHABLE and "unable to handle" in cluster.health_message

    assert check_all_health.delay().get() == 1
    cluster.refresh_from_db()
    assert cluster.health == Cluster.Health.HEALTHY and cluster.server_version.startswith("v1.") and cluster.health_message == ""


def test_a_delete_while_the_reconcile_applies_wins(kubesim_cluster, approve, manager, monkeypatch, django_capture_on_commit_callbacks):
    """namespace_delete does not wait for the reconcile's claim; the reconcile must not turn Terminating back into Ready."""
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    real_apply = services.kube.apply

    def apply_then_someone_deletes(cluster_, objects, *, ownership, skip=frozenset()):
        applied = real_apply(cluster_, objects, ownership=ownership, skip=skip)
        with django_capture_on_commit_callbacks(execute=False):
            services.namespace_delete(actor=manager, namespace=Namespace.objects.get(pk=namespace.pk))
        return applied

    monkeypatch.setattr(services.kube, "apply", apply_then_someone_deletes)

    result = services.namespace_reconcile(namespace.pk)

    namespace.refresh_from_db()
    assert result.outcome == "gone"
    assert namespace.phase == Phase.TERMINATING
    assert namespace.claimed_by == "" and namespace.claimed_until is None  # the delete task can take it now
    assert not AuditEvent.objects.filter(action="namespace.ready", target_id=str(namespace.pk)).exists()


def test_a_delete_before_the_first_attempt_stops_the_reconcile(kubesim_cluster, approve, manager, monkeypatch, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    namespace = approve(cluster)
    real_bundle = services.bundle_for_namespace

    def bundle_then_someone_deletes(ns):
        objects = real_bundle(ns)
        with django_capture_on_commit_callbacks(execute=False):
            services.namespace_delete(actor=manager, namespace=Namespace.objects.get(pk=namespace.pk))
        return objects

    monkeypatch.setattr(services, "bundle_for_namespace", bundle_then_someone_deletes)
    handle.request_log.clear()

    assert services.namespace_reconcile(namespace.pk).outcome == "gone"
    namespace.refresh_from_db()
    assert namespace.phase == Phase.TERMINATING
    assert handle.request_log.writes() == []  # nothing was applied to a namespace being deleted
