"""Cluster list page (platform admins only)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.clusters.models import Cluster
from apps.namespaces.models import Namespace
from tests.pages import make_cluster, make_namespace

pytestmark = pytest.mark.django_db


def test_admin_sees_health_version_labels_and_namespace_count(client_for, admin_user, team):
    dev = make_cluster("dev", labels={"env": "dev", "region": "eu-west-1"}, health=Cluster.Health.HEALTHY,
                       server_version="v1.32.0", health_checked_at=timezone.now())
    make_cluster("prod", health=Cluster.Health.UNREACHABLE, health_message="connection refused")
    make_namespace(team, dev, "a")
    make_namespace(team, dev, "b")
    make_namespace(team, dev, "gone", phase=Namespace.Phase.DELETED)
    response = client_for(admin_user).get(reverse("clusters:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "v1.32.0" in body and "env=dev" in body and "region=eu-west-1" in body
    assert "connection refused" in body and "Unreachable" in body
    counts = {c.name: c.namespace_count for c in response.context["clusters"]}
    assert counts == {"dev": 2, "prod": 0}


@pytest.mark.parametrize("who", ["member", "manager", "outsider", "auditor"])
def test_non_admins_are_refused(client_for, request, who):
    make_cluster("dev")
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("clusters:list")).status_code == 403


def test_anonymous_is_sent_to_login(client):
    assert client.get(reverse("clusters:list")).status_code == 302


def test_nav_links_clusters_only_for_admins(client_for, admin_user, member):
    assert reverse("clusters:list") in client_for(admin_user).get(reverse("namespaces:dashboard")).content.decode()
    assert reverse("clusters:list") not in client_for(member).get(reverse("namespaces:dashboard")).content.decode()


@pytest.mark.parametrize("rows", [1, 30])
def test_cluster_list_query_count_does_not_grow(client_for, admin_user, team, django_assert_max_num_queries, rows):
    for i in range(rows):
        cluster = make_cluster(f"c{i}")
        make_namespace(team, cluster, f"ns-{i}")
    c = client_for(admin_user)
    with django_assert_max_num_queries(6):  # 5 for the page, 1 for the header's inbox badge
        assert c.get(reverse("clusters:list")).status_code == 200
