"""Cluster services: registration rules and health checks."""

from __future__ import annotations

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster
from apps.clusters.services import cluster_check_health, cluster_register, parse_kubeconfig


def test_only_platform_admins_register_clusters(kubesim, member, manager):
    for user in (member, manager):
        with pytest.raises(PermissionDenied):
            cluster_register(actor=user, name="prod", kubeconfig=kubesim.admin_kubeconfig.read_text())
    assert not Cluster.objects.exists()


def test_admin_registration_is_audited_with_the_admin_and_without_secrets(kubesim, admin_user):
    cluster = cluster_register(actor=admin_user, name="prod", kubeconfig=kubesim.admin_kubeconfig.read_text())

    event = AuditEvent.objects.get(action="cluster.register")
    assert event.actor == admin_user and event.target_id == str(cluster.pk)
    assert set(event.after) == {"name", "api_server_url", "auth_kind", "ca_sha256", "default_pod_security", "labels", "capacity", "context"}
    assert "BEGIN" not in str(event.after)


def test_updating_keeps_the_admins_defaults(kubesim, admin_user):
    cluster = cluster_register(actor=admin_user, name="prod", kubeconfig=kubesim.admin_kubeconfig.read_text())
    Cluster.objects.filter(pk=cluster.pk).update(default_pod_security="baseline", labels={"env": "prod"})

    cluster = cluster_register(actor=admin_user, name="prod", kubeconfig=kubesim.admin_kubeconfig.read_text())

    assert (cluster.default_pod_security, cluster.labels) == ("baseline", {"env": "prod"})


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c["clusters"][0]["cluster"].update(server="http://127.0.0.1:8080"), "must be an https:// URL"),
    (lambda c: c["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True}), "insecure-skip-tls-verify is not accepted"),
    (lambda c: c["users"][0]["user"].pop("client-key-data"), "without its key"),
    (lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "%%%"}), "not valid base64"),
    (lambda c: c.pop("current-context"), "no current-context; choose one of: kubesim-admin@kubesim"),
    (lambda c: c["contexts"][0]["context"].update(user="ghost"), 'no user named "ghost"'),
])
def test_bad_kubeconfigs_are_refused_with_a_clear_message(kubesim, mutate, message):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    mutate(config)

    with pytest.raises(ValidationError) as err:
        parse_kubeconfig(yaml.safe_dump(config))

    assert message in " ".join(err.value.messages)


def test_not_yaml_is_refused():
    with pytest.raises(ValidationError, match="not a kubeconfig"):
        parse_kubeconfig("just text")


def test_health_follows_the_cluster(kubesim, db):
    cluster = cluster_register(actor=None, name="prod", kubeconfig=kubesim.admin_kubeconfig.read_text())
    assert cluster.health == Cluster.Health.HEALTHY and cluster.server_version.startswith("v1.")
    updated_at = cluster.updated_at
    kubesim.faults.fail_next(1, status=500)

    cluster = cluster_check_health(cluster)

    cluster.refresh_from_db()
    assert cluster.health == Cluster.Health.UNREACHABLE and "prod: get version:" in cluster.health_message
    assert cluster.updated_at == updated_at  # health is not an edit: the cached API client stays valid
