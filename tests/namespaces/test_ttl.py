"""TTL: the hourly reaper deletes expired namespaces (after the grace period, never
protected ones, once), the protect toggle, and the expiry hints on the pages.

Reaper tests run against kubesim through the real reconcile/delete path; page
tests use plain rows (no cluster call).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.audit.models import AuditEvent
from apps.namespaces import services, tasks
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import namespace_expiry, namespaces_expiring_within
from apps.namespaces.services import namespace_request_submit
from tests.conftest import official_client
from tests.pages import make_cluster, make_namespace

Phase = Namespace.Phase
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture
def ready(kubesim_cluster, member, manager, team, django_capture_on_commit_callbacks):
    """``ready(name, expires_in=timedelta)`` -> a namespace applied on kubesim whose TTL ends ``expires_in`` from now."""

    def run(name="payments-dev", expires_in: timedelta | None = timedelta(hours=-2), **fields) -> Namespace:
        request = namespace_request_submit(actor=member, team=team, cluster=kubesim_cluster[1], name=name, purpose="tests",
                                           quota=dict(QUOTA), ttl_hours=1)
        with django_capture_on_commit_callbacks(execute=False):
            namespace = request_approve(actor=manager, request=request).namespace
        assert services.namespace_reconcile(namespace.pk).outcome == "applied"
        Namespace.objects.filter(pk=namespace.pk).update(
            expires_at=timezone.now() + expires_in if expires_in is not None else None, **fields)
        namespace.refresh_from_db()
        return namespace

    return run


@pytest.fixture
def admin_api(kubesim_cluster):
    with official_client(kubesim_cluster[0].admin_kubeconfig) as api:
        yield api


def namespace_deletes(handle, name: str) -> list:
    """DELETE requests kubesim served for the Namespace object ``name``."""
    return [w for w in handle.request_log.writes() if w.verb == "delete" and w.path == f"/api/v1/namespaces/{name}"]


def live_on_cluster(admin_api, name: str) -> bool:
    items = k8s.CoreV1Api(admin_api).list_namespace().items
    return name in [n.metadata.name for n in items if not n.metadata.deletion_timestamp]


# --- The reaper ----------------------------------------------------------------------------------


def test_expired_namespace_is_reaped_and_deleted_on_the_cluster(kubesim_cluster, ready, admin_api, eager, django_capture_on_commit_callbacks):
    handle, _ = kubesim_cluster
    namespace = ready("payments-dev", expires_in=timedelta(hours=-2))
    assert live_on_cluster(admin_api, "payments-dev")

    with django_capture_on_commit_callbacks(execute=True):
        reaped = services.namespaces_reap_expired()

    namespace.refresh_from_db()
    assert reaped == [namespace.pk]
    assert namespace.phase == Phase.DELETED and namespace.deleted_at is not None
    assert not live_on_cluster(admin_api, "payments-dev")
    assert len(namespace_deletes(handle, "payments-dev")) == 1
    event = AuditEvent.objects.get(action="namespace.expire")
    assert event.actor is None and event.actor_name == "system" and event.target_id == str(namespace.pk)
    assert event.before["phase"] == Phase.READY and event.after["phase"] == Phase.TERMINATING
    assert event.before["expires_at"] == event.after["expires_at"] == namespace.expires_at.isoformat()
    assert "TTL expired" in event.message
    # The cluster delete is the same one a manual delete ends with; no manual delete was audited.
    assert AuditEvent.objects.filter(action="namespace.deleted", target_id=str(namespace.pk)).count() == 1
    assert not AuditEvent.objects.filter(action="namespace.delete").exists()


def test_not_expired_within_grace_protected_deleted_or_without_ttl_are_untouched(kubesim_cluster, ready, admin_api, eager,
                                                                                  django_capture_on_commit_callbacks):
    handle, _ = kubesim_cluster
    rows = [
        ready("later", expires_in=timedelta(hours=1)),
        ready("in-grace", expires_in=timedelta(minutes=-30)),  # grace is 1 h by default
        ready("protected", expires_in=timedelta(days=-3), protected=True),
        ready("gone", expires_in=timedelta(days=-3), phase=Phase.DELETED),
        ready("leaving", expires_in=timedelta(days=-3), phase=Phase.TERMINATING),
        ready("forever", expires_in=None),
    ]
    handle.request_log.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.namespaces_reap_expired() == []

    assert callbacks == [] and handle.request_log.writes() == []
    assert not AuditEvent.objects.filter(action="namespace.expire").exists()
    assert {ns.name: Namespace.objects.get(pk=ns.pk).phase for ns in rows} == {
        "later": Phase.READY, "in-grace": Phase.READY, "protected": Phase.READY,
        "gone": Phase.DELETED, "leaving": Phase.TERMINATING, "forever": Phase.READY,
    }
    for name in ("later", "in-grace", "protected", "forever"):
        assert live_on_cluster(admin_api, name)


def test_grace_period_comes_from_settings(ready, settings, django_capture_on_commit_callbacks):
    recent = ready("recent", expires_in=timedelta(minutes=-30))
    older = ready("older", expires_in=timedelta(hours=-3))

    settings.NAMESPACE_EXPIRY_GRACE_HOURS = 5
    with django_capture_on_commit_callbacks(execute=False):
        assert services.namespaces_reap_expired() == []
    settings.NAMESPACE_EXPIRY_GRACE_HOURS = 0
    with django_capture_on_commit_callbacks(execute=False):
        assert sorted(services.namespaces_reap_expired()) == sorted([recent.pk, older.pk])


def test_running_the_reaper_twice_deletes_once(kubesim_cluster, ready, eager, django_capture_on_commit_callbacks):
    handle, _ = kubesim_cluster
    namespace = ready("payments-dev")
    handle.request_log.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = services.namespaces_reap_expired()
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = services.namespaces_reap_expired()

    assert first == [namespace.pk] and second == [] and second_callbacks == []
    assert len(namespace_deletes(handle, "payments-dev")) == 1
    assert AuditEvent.objects.filter(action="namespace.expire").count() == 1


def test_a_reaper_that_finds_the_row_already_terminating_does_nothing(kubesim_cluster, ready, django_capture_on_commit_callbacks):
    """The second of two overlapping reapers: its list is stale, the locked row is not."""
    namespace = ready("payments-dev")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.namespace_expire(namespace.pk) is True
        assert services.namespace_expire(namespace.pk) is False
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="namespace.expire").count() == 1


def test_protected_after_selection_is_not_reaped(ready, manager, django_capture_on_commit_callbacks):
    """Protecting between the reaper's query and its lock wins: the rule is re-checked on the locked row."""
    namespace = ready("payments-dev")
    services.namespace_set_protected(actor=manager, namespace=namespace, protected=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.namespace_expire(namespace.pk) is False
    assert callbacks == []
    namespace.refresh_from_db()
    assert namespace.phase == Phase.READY


def test_expired_before_it_was_ever_applied_fails_its_request(kubesim_cluster, member, manager, team, django_capture_on_commit_callbacks):
    request = namespace_request_submit(actor=member, team=team, cluster=kubesim_cluster[1], name="never-applied", quota=dict(QUOTA), ttl_hours=1)
    with django_capture_on_commit_callbacks(execute=False):
        namespace = request_approve(actor=manager, request=request).namespace
    Namespace.objects.filter(pk=namespace.pk).update(expires_at=timezone.now() - timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=False):
        assert services.namespaces_reap_expired() == [namespace.pk]

    request.refresh_from_db()
    assert request.state == Request.State.FAILED and "deleted before it was applied" in request.last_error


@pytest.mark.django_db(transaction=True)
def test_concurrent_reapers_on_postgres_delete_once(kubesim_cluster, member, manager, team, eager):
    handle, cluster = kubesim_cluster
    request = namespace_request_submit(actor=member, team=team, cluster=cluster, name="race", quota=dict(QUOTA), ttl_hours=1)
    namespace = request_approve(actor=manager, request=request).namespace  # transactional + eager: reconciled on commit
    namespace.refresh_from_db()
    assert namespace.phase == Phase.READY
    Namespace.objects.filter(pk=namespace.pk).update(expires_at=timezone.now() - timedelta(hours=2))
    handle.request_log.clear()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def reap():
        try:
            barrier.wait()
            results.append(services.namespaces_reap_expired())
        except Exception as exc:  # noqa: BLE001  (asserted below; a thread's exception is otherwise lost)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(results) == [[], [], [], [namespace.pk]]
    assert AuditEvent.objects.filter(action="namespace.expire").count() == 1
    assert len(namespace_deletes(handle, "race")) == 1
    assert Namespace.objects.get(pk=namespace.pk).phase == Phase.DELETED


def test_reap_task_is_thin_acks_late_and_scheduled_hourly(ready, eager, settings, django_capture_on_commit_callbacks):
    assert tasks.reap_expired.acks_late is True
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "apps.namespaces.tasks.reap_expired")
    assert entry["schedule"] == timedelta(hours=1)
    namespace = ready("payments-dev")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.reap_expired.delay().get() == [namespace.pk]

    assert AuditEvent.objects.get(action="namespace.expire").via == "worker"
    namespace.refresh_from_db()
    assert namespace.phase == Phase.DELETED


# --- Protect (service) ------------------------------------------------------------------------------


@pytest.fixture
def dev(db):
    return make_cluster("dev")


def test_manager_protects_and_unprotects_audited(manager, team, dev):
    ns = make_namespace(team, dev, "payments-dev", expires_at=timezone.now() + timedelta(hours=3))

    services.namespace_set_protected(actor=manager, namespace=ns, protected=True)
    services.namespace_set_protected(actor=manager, namespace=ns, protected=True)  # same value: nothing to record
    services.namespace_set_protected(actor=manager, namespace=ns, protected=False)

    events = list(AuditEvent.objects.filter(target_id=str(ns.pk)).order_by("id"))
    assert [e.action for e in events] == ["namespace.protect", "namespace.unprotect"]
    assert (events[0].before["protected"], events[0].after["protected"], events[0].actor) == (False, True, manager)
    ns.refresh_from_db()
    assert ns.protected is False


def test_members_viewers_and_outsiders_cannot_protect(member, viewer, outsider, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    for user in (member, viewer, outsider):
        with pytest.raises(PermissionDenied):
            services.namespace_set_protected(actor=user, namespace=ns, protected=True)
    ns.refresh_from_db()
    assert ns.protected is False and not AuditEvent.objects.exists()


def test_a_namespace_being_deleted_cannot_be_protected(admin_user, team, dev):
    ns = make_namespace(team, dev, "payments-dev", phase=Phase.TERMINATING)
    with pytest.raises(ValidationError):
        services.namespace_set_protected(actor=admin_user, namespace=ns, protected=True)


# --- Selectors: expiry status and "expiring within" --------------------------------------------------


@pytest.mark.parametrize(("left", "state", "label", "highlight"), [
    (timedelta(hours=5, minutes=59), "urgent", "expires in 5 h", True),
    (timedelta(minutes=35), "urgent", "expires in 35 min", True),
    (timedelta(hours=48), "warning", "expires in 48 h", True),
    (timedelta(hours=72), "warning", "expires in 72 h", True),
    (timedelta(days=10, hours=3), "later", "expires in 10 d", False),
    (timedelta(minutes=-10), "expired", "expired, deleting", True),
])
def test_expiry_status_counts_down_and_highlights_within_72_hours(team, dev, left, state, label, highlight):
    now = timezone.now()
    ns = Namespace(team=team, cluster=dev, name="x", phase=Phase.READY, expires_at=now + left)
    expiry = namespace_expiry(ns, now)
    assert (expiry.state, expiry.label, expiry.highlight) == (state, label, highlight)


def test_expiry_status_of_protected_terminating_and_ttl_less_namespaces(team, dev):
    past = timezone.now() - timedelta(hours=1)
    assert namespace_expiry(Namespace(team=team, cluster=dev, phase=Phase.READY, expires_at=past, protected=True)).state == "protected"
    assert namespace_expiry(Namespace(team=team, cluster=dev, phase=Phase.TERMINATING, expires_at=past)).label == "deleting"
    assert namespace_expiry(Namespace(team=team, cluster=dev, phase=Phase.READY)).label == "never"


def test_expiring_within_lists_my_live_unprotected_namespaces_soonest_first(member, team, other_team, dev):
    now = timezone.now()
    soon = make_namespace(team, dev, "soon", expires_at=now + timedelta(hours=2))
    overdue = make_namespace(team, dev, "overdue", expires_at=now - timedelta(minutes=20))
    make_namespace(team, dev, "later", expires_at=now + timedelta(days=5))
    make_namespace(team, dev, "safe", expires_at=now + timedelta(hours=2), protected=True)
    make_namespace(team, dev, "leaving", expires_at=now + timedelta(hours=2), phase=Phase.TERMINATING)
    make_namespace(other_team, dev, "not-mine", expires_at=now + timedelta(hours=2))

    assert list(namespaces_expiring_within(member, 72, now=now)) == [overdue, soon]
    assert list(namespaces_expiring_within(member, 1, now=now)) == [overdue]


# --- Pages ---------------------------------------------------------------------------------------


def test_dashboard_shows_expiry_hints_and_highlights_within_72_hours(client_for, member, team, dev):
    now = timezone.now()
    soon = make_namespace(team, dev, "soon", expires_at=now + timedelta(hours=5, minutes=30))
    later = make_namespace(team, dev, "later", expires_at=now + timedelta(days=10, minutes=30))
    overdue = make_namespace(team, dev, "overdue", expires_at=now - timedelta(minutes=5))
    make_namespace(team, dev, "forever")

    body = client_for(member).get(reverse("namespaces:dashboard")).content.decode()

    assert f'<tr id="ns-{soon.pk}" class="row--expiring">' in body and "expires in 5 h" in body
    assert f'<tr id="ns-{overdue.pk}" class="row--expiring">' in body and "expired, deleting" in body
    assert f'<tr id="ns-{later.pk}">' in body and "expires in 10 d" in body


@pytest.mark.parametrize("rows", [1, 30])
def test_dashboard_query_count_does_not_grow_with_expiring_namespaces(client_for, member, team, dev, django_assert_max_num_queries, rows):
    for i in range(rows):
        make_namespace(team, dev, f"ns-{i}", expires_at=timezone.now() + timedelta(hours=i))
    c = client_for(member)
    with django_assert_max_num_queries(9):  # the dashboard cuts its page's ids first, then reads its rows
        assert c.get(reverse("namespaces:dashboard")).status_code == 200


def test_detail_shows_the_expiry_hint_and_the_protect_button_to_managers_only(client_for, member, manager, team, dev):
    ns = make_namespace(team, dev, "payments-dev", expires_at=timezone.now() + timedelta(hours=5, minutes=30))
    url = reverse("namespaces:detail", args=[ns.pk])
    protect_url = reverse("namespaces:protect", args=[ns.pk])

    as_member = client_for(member).get(url).content.decode()
    as_manager = client_for(manager).get(url).content.decode()

    assert 'data-expiry="urgent"' in as_member and "expires in 5 h" in as_member
    assert protect_url not in as_member
    assert protect_url in as_manager and "Protect from expiry" in as_manager


def test_detail_of_an_expired_namespace_says_it_is_being_deleted(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev", expires_at=timezone.now() - timedelta(minutes=5))
    body = client_for(member).get(reverse("namespaces:detail", args=[ns.pk])).content.decode()
    assert "expired, deleting" in body and 'data-expiry="expired"' in body


@pytest.mark.parametrize("who", ["manager", "admin_user"])
def test_manager_and_admin_toggle_protected(request, client_for, team, dev, who):
    user = request.getfixturevalue(who)
    ns = make_namespace(team, dev, "payments-dev", expires_at=timezone.now() + timedelta(hours=5))
    c = client_for(user)

    response = c.post(reverse("namespaces:protect", args=[ns.pk]), {"protected": "true"}, follow=True)

    ns.refresh_from_db()
    body = response.content.decode()
    assert response.status_code == 200 and ns.protected is True
    assert "the TTL reaper will not delete it" in body and "Remove protection" in body
    assert AuditEvent.objects.get(action="namespace.protect").actor == user

    c.post(reverse("namespaces:protect", args=[ns.pk]), {"protected": "false"})
    ns.refresh_from_db()
    assert ns.protected is False and AuditEvent.objects.filter(action="namespace.unprotect").count() == 1


def test_member_protect_is_refused_with_a_message(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    response = client_for(member).post(reverse("namespaces:protect", args=[ns.pk]), {"protected": "true"}, follow=True)
    assert "only managers of team payments" in response.content.decode()
    ns.refresh_from_db()
    assert ns.protected is False and not AuditEvent.objects.exists()


def test_outsider_gets_404_on_protect(client_for, outsider, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    assert client_for(outsider).post(reverse("namespaces:protect", args=[ns.pk]), {"protected": "true"}).status_code == 404
    ns.refresh_from_db()
    assert ns.protected is False


def test_protect_needs_post_csrf_and_a_valid_value(client_for, manager, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    url = reverse("namespaces:protect", args=[ns.pk])
    assert client_for(manager).get(url).status_code == 405
    assert client_for(manager).post(url, {"protected": "maybe"}).status_code == 400
    assert client_for(manager).post(url, {}).status_code == 400
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    assert strict.post(url, {"protected": "true"}).status_code == 403
    ns.refresh_from_db()
    assert ns.protected is False and not AuditEvent.objects.exists()


def test_api_exposes_protected_read_only(api_client_for, manager, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    api = api_client_for(manager)
    assert api.get(f"/api/v1/namespaces/{ns.pk}/").json()["protected"] is False
    assert api.patch(f"/api/v1/namespaces/{ns.pk}/", {"protected": True}, format="json").status_code == 405
    ns.refresh_from_db()
    assert ns.protected is False


def test_django_admin_edits_protected_through_the_audited_service(client, team, dev):
    from tests.conftest import make_user

    superuser = make_user("root", is_staff=True, is_superuser=True)
    ns = make_namespace(team, dev, "payments-dev")
    client.force_login(superuser)

    response = client.post(reverse("admin:namespaces_namespace_change", args=[ns.pk]), {"protected": "on", "_save": "Save"})

    assert response.status_code == 302
    ns.refresh_from_db()
    assert ns.protected is True
    assert AuditEvent.objects.get(action="namespace.protect").actor == superuser
