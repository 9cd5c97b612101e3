"""Notifications: who hears of what (inbox and email), sent after commit, once; expiry warnings with a
fixed clock; email opt-outs; the inbox pages and ``/api/v1/notifications/`` with outsider cases.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.approvals.models import Request
from apps.approvals.services import request_approve, request_reject
from apps.core.errors import ServiceError
from apps.namespaces.extensions import extension_request_submit
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit
from apps.notifications import services, tasks
from apps.notifications.models import EmailOptOut, Kind, Notification
from apps.onboarding.models import IssuedCertificate
from apps.quotas.models import ApprovalRule
from tests.conftest import make_member
from tests.pages import make_cluster, make_namespace

# Deliveries run in-process as the on-commit callbacks fire (a worker test is in test_delivery_worker).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture(autouse=True)
def with_emails(member, manager):
    for user in (member, manager):
        user.email = f"{user.username}@example.test"
        user.save(update_fields=["email"])


@pytest.fixture(autouse=True)
def quiet_reconcile(monkeypatch):
    from apps.namespaces import tasks as ns_tasks

    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)


@pytest.fixture
def dev():
    return make_cluster("dev")


def inbox(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def submit(member, team, dev, name="payments-dev"):
    return namespace_request_submit(actor=member, team=team, cluster=dev, name=name, quota=dict(QUOTA))


# --- who hears of what, after commit ----------------------------------------------------------------


def test_submitted_goes_to_the_teams_managers_after_commit(member, manager, team, dev, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(member, team, dev)
    # Nothing before the commit: a rolled-back submit tells nobody.
    assert not Notification.objects.exists() and mail.outbox == []
    for callback in callbacks:
        callback()
    assert inbox(manager) == [Kind.REQUEST_SUBMITTED] and inbox(member) == []
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert "payments-dev" in mail.outbox[0].subject and "/requests/" in mail.outbox[0].body
    assert mail.outbox[0].body.count("http://") >= 1  # absolute link (PORTAL_URL)


def test_a_team_without_managers_tells_the_platform_admins(member, manager, team, dev, admin_user, django_capture_on_commit_callbacks):
    manager.memberships.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        submit(member, team, dev)
    assert inbox(admin_user) == [Kind.REQUEST_SUBMITTED] and inbox(manager) == []


def test_decided_goes_to_the_requester_with_the_reason(member, manager, team, dev, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = submit(member, team, dev)
    with django_capture_on_commit_callbacks(execute=True):
        request_reject(actor=manager, request=request, reason="use the shared staging namespace")
    note = Notification.objects.get(user=member)
    assert note.kind == Kind.REQUEST_DECIDED and "rejected" in note.title
    assert "use the shared staging namespace" in note.body and f"by {manager.username}" in note.body
    assert mail.outbox[-1].to == [member.email] and "use the shared staging namespace" in mail.outbox[-1].body


def test_auto_approved_requests_tell_the_requester_and_do_not_ask_managers(member, manager, team, dev, django_capture_on_commit_callbacks):
    ApprovalRule.objects.create(name="small ones", kind=ApprovalRule.Kind.NAMESPACE)
    with django_capture_on_commit_callbacks(execute=True):
        submit(member, team, dev)
    assert inbox(manager) == []
    note = Notification.objects.get(user=member)
    assert note.kind == Kind.REQUEST_DECIDED and "by rule small ones" in note.body


def test_a_rolled_back_decision_tells_nobody(member, manager, team, dev, django_capture_on_commit_callbacks):
    request = submit(member, team, dev)
    make_namespace(team, dev, "payments-dev")  # approving now fails: the name is taken
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError):
        request_approve(actor=manager, request=request)
    assert not Notification.objects.filter(kind=Kind.REQUEST_DECIDED).exists()


# --- idempotent under redelivery -------------------------------------------------------------------


def test_delivering_the_same_event_twice_adds_nothing_and_mails_once(member, manager, team, dev):
    request = submit(member, team, dev)
    assert tasks.deliver.apply(args=("request.submitted", request.pk, {})).get() == 1
    assert tasks.deliver.apply(args=("request.submitted", request.pk, {})).get() == 0
    assert Notification.objects.filter(user=manager).count() == 1
    assert len(mail.outbox) == 1


def test_a_mail_the_backend_refuses_is_retried_not_lost(member, manager, team, dev, monkeypatch):
    request = submit(member, team, dev)
    from apps.notifications import services as notify

    def refuse(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr(notify, "send_mail", refuse)
    with pytest.raises(OSError):
        services.notifications_deliver("request.submitted", request.pk)
    row = Notification.objects.get(user=manager)
    assert row.emailed_at is None  # un-claimed: the retry sends it
    monkeypatch.undo()
    assert services.notifications_deliver("request.submitted", request.pk) == 1
    assert len(mail.outbox) == 1


def test_email_opt_out_keeps_the_inbox_and_stops_the_mail(member, manager, team, dev):
    services.email_opt_outs_set(manager, {Kind.REQUEST_SUBMITTED})
    request = submit(member, team, dev)
    services.notifications_deliver("request.submitted", request.pk)
    assert inbox(manager) == [Kind.REQUEST_SUBMITTED] and mail.outbox == []
    with pytest.raises(ValueError):
        services.email_opt_outs_set(manager, {"not-a-kind"})


def test_a_cancelled_request_is_not_announced(member, manager, team, dev):
    request = submit(member, team, dev)
    Request.objects.filter(pk=request.pk).update(state=Request.State.CANCELLED)
    assert services.notifications_deliver("request.submitted", request.pk) == 0
    assert not Notification.objects.exists()


# --- expiry warnings with a fixed clock -------------------------------------------------------------


def deliver_due(now):
    due = services.expiry_warnings_due(now=now)
    for event, object_id, extra in due:
        services.notifications_deliver(event, object_id, **extra)
    return [(event, extra.get("hours")) for event, _, extra in due]


def test_namespace_expiry_warnings_at_72_and_24_hours_each_once(member, manager, team, dev):
    t0 = timezone.now().replace(microsecond=0)
    namespace = make_namespace(team, dev, "payments-dev", owner=member, expires_at=t0 + timedelta(hours=100))
    assert deliver_due(t0) == []
    assert deliver_due(t0 + timedelta(hours=30)) == [("namespace.expiring", 72)]
    assert deliver_due(t0 + timedelta(hours=31)) == []  # sent once
    assert deliver_due(t0 + timedelta(hours=77)) == [("namespace.expiring", 24)]
    assert deliver_due(t0 + timedelta(hours=90)) == []
    assert inbox(member) == inbox(manager) == [Kind.NAMESPACE_EXPIRING] * 2
    titles = list(Notification.objects.filter(user=member).order_by("id").values_list("title", flat=True))
    assert titles == ["Namespace payments-dev expires in less than 72 h", "Namespace payments-dev expires in less than 24 h"]
    assert reverse("namespaces:detail", args=[namespace.pk]) in Notification.objects.filter(user=member).first().url
    assert len(mail.outbox) == 4


def test_a_namespace_first_seen_within_24_hours_gets_only_the_24_hour_warning(member, team, dev):
    t0 = timezone.now()
    make_namespace(team, dev, "payments-dev", owner=member, expires_at=t0 + timedelta(hours=10))
    assert deliver_due(t0) == [("namespace.expiring", 24)]
    assert deliver_due(t0 + timedelta(hours=1)) == []


def test_an_extended_namespace_is_warned_again_before_its_new_expiry(member, manager, team, dev):
    t0 = timezone.now()
    namespace = make_namespace(team, dev, "payments-dev", owner=member, expires_at=t0 + timedelta(hours=20))
    assert deliver_due(t0) == [("namespace.expiring", 24)]
    request = extension_request_submit(actor=member, namespace=namespace, ttl_hours=60)
    request_approve(actor=manager, request=request)
    assert deliver_due(timezone.now()) == [("namespace.expiring", 72)]
    # A warning enqueued for the old expiry and delivered after the extension says nothing.
    assert services.notifications_deliver("namespace.expiring", namespace.pk, expires_at=(t0 + timedelta(hours=20)).isoformat(),
                                          hours=24) == 0


@pytest.mark.parametrize("change", [{"protected": True}, {"phase": Namespace.Phase.TERMINATING}, {"expires_at": None}])
def test_protected_deleted_or_endless_namespaces_get_no_warning(member, team, dev, change):
    namespace = make_namespace(team, dev, "payments-dev", owner=member, expires_at=timezone.now() + timedelta(hours=10))
    Namespace.objects.filter(pk=namespace.pk).update(**change)
    assert deliver_due(timezone.now()) == []


def make_certificate(user, cluster, *, issued_ago: timedelta, lifetime: timedelta, serial="ab") -> IssuedCertificate:
    not_before = timezone.now() - issued_ago
    cert = IssuedCertificate.objects.create(
        user=user, cluster=cluster, namespace_name="payments-dev", subject=f"CN={user.username}", serial=serial * 8,
        fingerprint_sha256=serial * 32, not_before=not_before, not_after=not_before + lifetime, csr_name=f"csr-{serial}",
        key_mode=IssuedCertificate.KeyMode.USER)
    IssuedCertificate.objects.filter(pk=cert.pk).update(created_at=not_before)
    return cert


def test_certificate_expiry_warning_with_a_renew_link_once(member, dev):
    fresh = make_certificate(member, dev, issued_ago=timedelta(hours=1), lifetime=timedelta(hours=24), serial="aa")
    assert deliver_due(timezone.now()) == []
    old = make_certificate(member, dev, issued_ago=timedelta(hours=21), lifetime=timedelta(hours=24), serial="bb")
    # "fresh" is newer for the same cluster and namespace: the old one needs no warning.
    assert deliver_due(timezone.now()) == []
    fresh.delete()
    assert deliver_due(timezone.now()) == [("certificate.expiring", None)]
    assert deliver_due(timezone.now()) == []
    note = Notification.objects.get(user=member)
    assert note.kind == Kind.CERTIFICATE_EXPIRING and note.url == reverse("onboarding:kubeconfig") + f"?renew={old.pk}"
    assert "Renew" in note.body


def test_the_beat_task_enqueues_each_due_warning(member, team, dev, monkeypatch):
    make_namespace(team, dev, "payments-dev", owner=member, expires_at=timezone.now() + timedelta(hours=10))
    sent = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, queue=None: sent.append((args, queue)))
    assert tasks.warn_expiring() == 1
    (event, _, extra), queue = sent[0]
    assert event == "namespace.expiring" and extra["hours"] == 24 and queue.endswith("-background")


# --- pages -----------------------------------------------------------------------------------------------


def note(user, title="Request #1 approved", url="/", **extra):
    return Notification.objects.create(user=user, kind=Kind.REQUEST_DECIDED, key=f"k:{title}:{user.pk}", title=title, url=url, **extra)


def test_inbox_shows_only_mine_and_the_header_counts_unread(client_for, member, manager):
    note(member, "mine")
    note(manager, "not mine")
    page = client_for(member).get(reverse("notifications:inbox")).content.decode()
    assert "mine" in page and "not mine" not in page
    assert 'data-unread="1"' in page


def test_mark_read_and_open_follows_the_link(client_for, member):
    n = note(member, url="/requests/1/")
    client = client_for(member)
    response = client.post(reverse("notifications:read", args=[n.pk]), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == "/requests/1/"
    n.refresh_from_db()
    assert n.read_at is not None
    assert 'data-unread' not in client.get(reverse("notifications:inbox")).content.decode()


def test_mark_all_read(client_for, member):
    note(member, "one")
    note(member, "two")
    response = client_for(member).post(reverse("notifications:read_all"), follow=True)
    assert "2 notifications marked read" in response.content.decode()
    assert not Notification.objects.filter(user=member, read_at__isnull=True).exists()


def test_someone_elses_notification_is_a_404_and_stays_unread(client_for, member, manager):
    theirs = note(manager)
    assert client_for(member).post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_open_never_redirects_off_site(client_for, member):
    n = note(member, url="https://evil.example/")
    response = client_for(member).post(reverse("notifications:read", args=[n.pk]), {"open": "1"})
    assert response["Location"] == reverse("notifications:inbox")


def test_badge_endpoint_counts_unread(client_for, member):
    note(member, "a")
    note(member, "b", read_at=timezone.now())
    assert 'data-unread="1"' in client_for(member).get(reverse("notifications:badge")).content.decode()


def test_email_settings_page_turns_kinds_off(client_for, member):
    client = client_for(member)
    assert "Email me when" in client.get(reverse("notifications:settings")).content.decode()
    data = {kind: "on" for kind in Kind.values if kind != Kind.NAMESPACE_READY}
    assert client.post(reverse("notifications:settings"), data).status_code == 302
    assert set(EmailOptOut.objects.filter(user=member).values_list("kind", flat=True)) == {Kind.NAMESPACE_READY}
    client.post(reverse("notifications:settings"), {kind: "on" for kind in Kind.values})
    assert not EmailOptOut.objects.filter(user=member).exists()


def test_anonymous_is_sent_to_log_in(client):
    for name in ("inbox", "badge", "settings"):
        response = client.get(reverse(f"notifications:{name}"))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_inbox_query_count_does_not_grow_with_notifications(client_for, member, django_assert_max_num_queries):
    client = client_for(member)
    for i in range(3):
        note(member, f"n{i}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("notifications:inbox"))
    for i in range(3, 40):
        note(member, f"n{i}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("notifications:inbox"))
    assert len(many.captured_queries) == len(few.captured_queries)


# --- API -------------------------------------------------------------------------------------------------


def test_api_lists_mine_newest_first_with_an_unread_filter(api_client_for, member, manager):
    note(member, "old", read_at=timezone.now())
    note(member, "new")
    note(manager, "theirs")
    client = api_client_for(member)
    body = client.get("/api/v1/notifications/").json()
    assert [n["title"] for n in body["results"]] == ["new", "old"]
    assert body["results"][0]["read"] is False and body["results"][0]["url"].startswith("http")
    assert [n["title"] for n in client.get("/api/v1/notifications/?state=unread").json()["results"]] == ["new"]
    assert client.get("/api/v1/notifications/?state=maybe").status_code == 400


def test_api_mark_read_and_read_all(api_client_for, member, manager):
    first, second = note(member, "a"), note(member, "b")
    theirs = note(manager, "c")
    client = api_client_for(member)
    response = client.post(f"/api/v1/notifications/{first.pk}/read/", {}, format="json")
    assert response.status_code == 200 and response.json()["read"] is True
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/", {}, format="json").status_code == 404
    assert client.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert client.post("/api/v1/notifications/read-all/", {"x": 1}, format="json").status_code == 400
    assert client.post("/api/v1/notifications/read-all/", {}, format="json").json() == {"marked": 1}
    second.refresh_from_db()
    theirs.refresh_from_db()
    assert second.read_at is not None and theirs.read_at is None


def test_api_email_settings(api_client_for, member):
    client = api_client_for(member)
    assert client.get("/api/v1/notifications/email-settings/").json() == {"email_off": []}
    response = client.put("/api/v1/notifications/email-settings/", {"email_off": ["namespace_ready"]}, format="json")
    assert response.status_code == 200 and response.json() == {"email_off": ["namespace_ready"]}
    bad = client.put("/api/v1/notifications/email-settings/", {"email_off": ["sometimes"]}, format="json")
    assert bad.status_code == 400 and "email_off" in bad.json()
    assert client.get("/api/v1/notifications/email-settings/").json() == {"email_off": ["namespace_ready"]}


def test_api_anonymous_is_401(client):
    assert client.get("/api/v1/notifications/").status_code == 401


def test_someone_without_email_still_gets_the_inbox(member, team, dev):
    boss = make_member("boss", team, "manager")
    boss.email = ""
    boss.save(update_fields=["email"])
    request = submit(member, team, dev)
    services.notifications_deliver("request.submitted", request.pk)
    assert Notification.objects.filter(kind=Kind.REQUEST_SUBMITTED).count() == 2  # manager + boss
    assert len(mail.outbox) == 1  # boss has no email address
