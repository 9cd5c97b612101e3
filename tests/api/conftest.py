"""Fixtures of the API tests: a cluster row (no kubesim needed), request and namespace factories,
and a query counter that compares a list endpoint at two sizes.

The API never talks to a cluster itself; approving only enqueues a reconcile
after commit, and these tests run inside a transaction that never commits,
so a plain ``Cluster`` row is enough.
"""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clusters.models import Cluster, PodSecurityLevel
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit

CLUSTER_TOKEN = "s3cret-serviceaccount-token-never-in-the-api"
CA_MARKER = "MIIB-fake-ca-bundle-never-in-the-api"

_seq = itertools.count(1)


def make_cluster(name: str = "dev-eu", **extra) -> Cluster:
    cluster = Cluster(
        name=name,
        api_server_url=f"https://{name}.k8s.example.com:6443",
        ca_bundle=f"-----BEGIN CERTIFICATE-----\n{CA_MARKER}\n-----END CERTIFICATE-----\n",
        auth_kind=Cluster.AuthKind.TOKEN,
        labels=extra.pop("labels", {"env": "dev", "region": "eu-west-1"}),
        default_pod_security=extra.pop("default_pod_security", PodSecurityLevel.BASELINE),
        **extra,
    )
    cluster.set_credentials({"token": CLUSTER_TOKEN})
    cluster.save()
    return cluster


@pytest.fixture
def db_cluster(db) -> Cluster:
    """A registered cluster (its default pod security is baseline, to tell defaults apart)."""
    return make_cluster()


@pytest.fixture
def make_request(db_cluster):
    """``make_request(user, team, name=..., **fields)`` -> a submitted namespace request (through the service)."""

    def build(user, team, name: str | None = None, cluster: Cluster | None = None, **fields):
        return namespace_request_submit(actor=user, team=team, cluster=cluster or db_cluster,
                                        name=name or f"ns-{next(_seq)}", **fields)

    return build


@pytest.fixture
def make_namespace(db_cluster):
    """``make_namespace(team, name=..., **fields)`` -> a Namespace row as approval would create it."""

    def build(team, name: str | None = None, cluster: Cluster | None = None, **fields):
        fields.setdefault("quota", {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"})
        return Namespace.objects.create(cluster=cluster or db_cluster, team=team, name=name or f"ns-{next(_seq)}", **fields)

    return build


@pytest.fixture
def query_count():
    """``query_count(fn)`` -> (number of SQL queries ``fn()`` ran, its return value)."""

    def run(fn):
        with CaptureQueriesContext(connection) as ctx:
            result = fn()
        return len(ctx.captured_queries), result

    return run
