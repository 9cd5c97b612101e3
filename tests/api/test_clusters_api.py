"""``GET /api/v1/clusters/``: the catalogue of clusters, never their credentials."""

from __future__ import annotations

import pytest

from apps.clusters.models import Cluster
from tests.api.conftest import CA_MARKER, CLUSTER_TOKEN, make_cluster

URL = "/api/v1/clusters/"


@pytest.mark.parametrize("who", ["member", "manager", "viewer", "outsider", "admin_user", "auditor"])
def test_every_signed_in_user_sees_the_clusters(request, api_client_for, db_cluster, who):
    response = api_client_for(request.getfixturevalue(who)).get(URL)
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["dev-eu"]


def test_cluster_fields(api_client_for, member, db_cluster):
    db_cluster.health = Cluster.Health.HEALTHY
    db_cluster.server_version = "v1.32.0"
    db_cluster.save()
    (cluster,) = api_client_for(member).get(URL).json()["results"]
    assert cluster == {
        "name": "dev-eu",
        "api_server_url": "https://dev-eu.k8s.example.com:6443",
        "labels": {"env": "dev", "region": "eu-west-1"},
        "health": "healthy",
        "health_checked_at": None,
        "server_version": "v1.32.0",
        "default_pod_security": "baseline",
    }


def test_credentials_and_ca_never_leave_the_server(api_client_for, admin_user, db_cluster):
    response = api_client_for(admin_user).get(URL)
    text = response.content.decode()
    assert CLUSTER_TOKEN not in text and CA_MARKER not in text
    assert "credentials" not in text and "ca_bundle" not in text
    assert db_cluster.credentials_encrypted not in text


def test_clusters_are_read_only(api_client_for, admin_user, db_cluster):
    client = api_client_for(admin_user)
    assert client.post(URL, {"name": "x"}, format="json").status_code == 405
    assert client.get(f"{URL}dev-eu/").status_code == 404


def test_query_count_does_not_grow_with_clusters(api_client_for, member, db_cluster, query_count):
    client = api_client_for(member)
    client.get(URL)
    small, _ = query_count(lambda: client.get(URL))
    for i in range(15):
        make_cluster(f"cluster-{i}")
    large, response = query_count(lambda: client.get(URL))
    assert response.json()["count"] == 16
    assert large == small, (small, large)
    assert large <= 3
