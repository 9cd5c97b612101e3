"""Django admin for clusters: the editable defaults are audited, credentials never are."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.admin_forms import admin_form_data
from tests.conftest import make_user
from tests.pages import make_cluster

pytestmark = pytest.mark.django_db


def test_cluster_change_is_audited_without_credentials(client_for):
    root = make_user("root", is_superuser=True, is_staff=True)
    cluster = make_cluster("dev")
    c = client_for(root)
    url = reverse("admin:clusters_cluster_change", args=[cluster.pk])
    data = admin_form_data(c.get(url))
    data["default_pod_security"] = "restricted" if cluster.default_pod_security != "restricted" else "baseline"
    data["labels"] = json.dumps({"env": "dev"})
    response = c.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    [event] = AuditEvent.objects.all()
    assert event.action == "cluster.update" and event.actor == root
    assert event.after["default_pod_security"] == data["default_pod_security"] and event.after["labels"] == {"env": "dev"}
    dumped = json.dumps([event.before, event.after])
    assert "not-a-real-token" not in dumped and "BEGIN CERTIFICATE" not in dumped
    cluster.refresh_from_db()
    assert cluster.get_credentials()["token"] == "not-a-real-token"


def test_staff_without_permissions_cannot_change_clusters(client_for):
    cluster = make_cluster("dev")
    response = client_for(make_user("stafford", is_staff=True)).post(
        reverse("admin:clusters_cluster_change", args=[cluster.pk]), {"default_pod_security": "privileged"})
    assert response.status_code == 403
    cluster.refresh_from_db()
    assert cluster.default_pod_security != "privileged" and not AuditEvent.objects.exists()


def test_saving_an_unchanged_cluster_writes_no_audit_row(client_for):
    cluster = make_cluster("dev")
    c = client_for(make_user("root", is_superuser=True, is_staff=True))
    url = reverse("admin:clusters_cluster_change", args=[cluster.pk])
    assert c.post(url, admin_form_data(c.get(url))).status_code == 302
    assert not AuditEvent.objects.exists()
