"""Helpers shared by the page (view) tests: rows made directly, no cluster needed.

Page tests check what each person sees and that changes go through services;
they never reach a cluster (approvals enqueue the reconcile on commit, which
the test transaction never does).
"""

from __future__ import annotations

from apps.approvals.models import Request
from apps.clusters.models import Cluster
from apps.namespaces.models import Namespace

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "20"}


def make_cluster(name: str = "dev", **extra) -> Cluster:
    """A cluster row with dummy credentials (page tests never call it)."""
    cluster = Cluster(name=name, api_server_url=f"https://{name}.example.invalid:6443", ca_bundle="-----BEGIN CERTIFICATE-----\n",
                      auth_kind=Cluster.AuthKind.TOKEN, **extra)
    cluster.set_credentials({"token": "not-a-real-token"})
    cluster.save()
    return cluster


def make_namespace(team, cluster, name: str, *, phase: str = Namespace.Phase.READY, owner=None, **extra) -> Namespace:
    return Namespace.objects.create(team=team, cluster=cluster, name=name, phase=phase, owner=owner,
                                    quota=extra.pop("quota", dict(QUOTA)), **extra)


def make_request(team, requester, cluster, name: str, **extra) -> Request:
    """A submitted namespace request, as ``namespace_request_submit`` would store it."""
    payload = {"purpose": "tests", "quota": dict(QUOTA), "ttl_hours": None, "pod_security_level": "restricted"}
    payload.update(extra.pop("payload", {}))
    return Request.objects.create(kind=Request.Kind.NAMESPACE, team=team, requester=requester, cluster=cluster, name=name,
                                  payload=payload, **extra)


def form_data(team, cluster, name: str, **overrides) -> dict:
    """POST data of the namespace request form."""
    data = {
        "team": team.slug, "cluster": cluster.name, "name": name, "purpose": "payments API", "tier": "small",
        "quota_requests_cpu": "1", "quota_limits_cpu": "2", "quota_requests_memory": "1Gi", "quota_limits_memory": "2Gi",
        "quota_pods": "20", "ttl_hours": "", "pod_security_level": "",
    }
    data.update(overrides)
    return data


def browser_log_in(context, user):
    """A new page of a Playwright ``context``, signed in as ``user`` through the login form."""
    import re

    from django.urls import reverse

    from tests.conftest import PASSWORD

    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    return page
