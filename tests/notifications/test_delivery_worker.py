"""Notifications through a real Celery worker: sent after commit from the worker, and a redelivered task
(the same message, same task id, delivered again) adds no inbox row and sends no second email.

The worker mails with Django's file backend into a temporary directory: one file per mail sent.
"""

from __future__ import annotations

import pytest

from apps.namespaces.models import Namespace
from apps.notifications import tasks
from apps.notifications.models import Kind, Notification
from tests.conftest import wait_for

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture
def mail_dir(tmp_path, monkeypatch):
    """The worker's mailer: the file backend (set before the worker fixture starts the process)."""
    path = tmp_path / "mail"
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    monkeypatch.setenv("EMAIL_FILE_PATH", str(path))
    return path


def mails(path) -> list[str]:
    return [p.read_text() for p in sorted(path.glob("*.log"))] if path.exists() else []


def task_finished(log_path, task_id: str, times: int = 1) -> bool:
    return sum(task_id in line and " succeeded in " in line for line in log_path.read_text().splitlines()) >= times


@pytest.mark.django_db(transaction=True)
def test_the_worker_tells_of_each_step_and_a_redelivery_sends_nothing_twice(
        mail_dir, kubesim_cluster, celery_worker, api_client_for, member, manager):
    created = api_client_for(member).post("/api/v1/namespace-requests/", {
        "cluster": "sim", "team": "payments", "name": "payments-dev", "purpose": "notify", "quota": QUOTA}, format="json")
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    # Submitted: the manager hears of it, from the worker, after the submit committed.
    wait_for(lambda: Notification.objects.filter(user=manager, kind=Kind.REQUEST_SUBMITTED).exists(), timeout=20,
             message="manager told of the request")
    approved = api_client_for(manager).post(f"/api/v1/requests/{request_id}/approve/", {"reason": "go"}, format="json")
    assert approved.status_code == 200, approved.content
    namespace = Namespace.objects.get(name="payments-dev")
    # Decided, then Ready (the worker's reconcile), each to the requester.
    wait_for(lambda: set(Notification.objects.filter(user=member).values_list("kind", flat=True))
             == {Kind.REQUEST_DECIDED, Kind.NAMESPACE_READY}, timeout=30, message="requester told of decision and Ready")
    assert Namespace.objects.get(pk=namespace.pk).phase == Namespace.Phase.READY
    wait_for(lambda: len(mails(mail_dir)) == 3, timeout=10, message="three mails")
    sent = mails(mail_dir)
    assert sum("waits for a manager" in m for m in sent) == 1 and sum("Reason: go" in m for m in sent) == 1
    assert sum("is ready on cluster sim" in m for m in sent) == 1

    # A redelivery: the same task message (same id) runs again on the worker.
    task_id = "redelivered-ready-0001"
    for _ in range(2):
        tasks.deliver.apply_async(args=("namespace.ready", namespace.pk, {}), task_id=task_id)
    wait_for(lambda: task_finished(celery_worker.log_path, task_id, times=2), timeout=20, message="both deliveries ran")
    assert Notification.objects.filter(user=member, kind=Kind.NAMESPACE_READY).count() == 1
    assert len(mails(mail_dir)) == 3
