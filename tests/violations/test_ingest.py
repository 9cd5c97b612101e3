"""Violations: ingest from kubesim as Gatekeeper and a wg-policy engine would report them, then pages and API by team."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from kubernetes import client as k8s

from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_reconcile
from apps.violations.ingest import ingest_cluster
from apps.violations.models import Constraint, IngestState, Violation
from tests.conftest import PASSWORD, official_client

pytestmark = pytest.mark.django_db
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "10"}
GK = ("constraints.gatekeeper.sh", "v1beta1")
PR = ("wgpolicyk8s.io", "v1alpha2")


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a, **k: None)


@pytest.fixture
def world(kubesim_cluster, team, other_team, member, outsider):
    """payments-web (team payments) and search-api (team search) on kubesim, and the engines' reports about them."""
    handle, cluster = kubesim_cluster
    for name, owner_team, owner in (("payments-web", team, member), ("search-api", other_team, outsider)):
        ns = Namespace.objects.create(team=owner_team, cluster=cluster, name=name, owner=owner, quota=dict(QUOTA))
        assert namespace_reconcile(ns.pk).outcome == "applied"
    api = official_client(handle.admin_kubeconfig)
    custom = k8s.CustomObjectsApi(api)
    custom.create_cluster_custom_object(*GK, "k8srequiredlabels", {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels", "metadata": {"name": "must-have-owner"},
        "spec": {"enforcementAction": "deny", "parameters": {"labels": ["owner"]}}})
    status = {"totalViolations": 3, "auditTimestamp": "2026-12-03T10:00:00Z", "violations": [
        {"enforcementAction": "deny", "kind": "Pod", "name": "web-1", "namespace": "payments-web", "message": "you must provide labels: {\"owner\"}"},
        {"enforcementAction": "deny", "kind": "Pod", "name": "api-1", "namespace": "search-api", "message": "you must provide labels: {\"owner\"}"},
    ]}
    write_constraint_status(custom, "must-have-owner", status)
    custom.create_namespaced_custom_object(*PR, "payments-web", "policyreports", {
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "polr-web"},
        "results": [
            {"policy": "require-requests", "rule": "check-cpu", "result": "fail", "severity": "medium", "category": "Best Practices",
             "message": "CPU requests are required", "resources": [{"apiVersion": "v1", "kind": "Pod", "name": "web-1", "namespace": "payments-web"}]},
            {"policy": "disallow-latest", "rule": "tag", "result": "warn", "message": "uses :latest",
             "resources": [{"apiVersion": "v1", "kind": "Pod", "name": "web-1", "namespace": "payments-web"}]},
            {"policy": "require-probes", "rule": "liveness", "result": "pass", "message": "ok",
             "resources": [{"apiVersion": "v1", "kind": "Pod", "name": "web-1", "namespace": "payments-web"}]},
        ]})
    custom.create_cluster_custom_object(*PR, "clusterpolicyreports", {
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport", "metadata": {"name": "cpolr"},
        "results": [{"policy": "ns-owner-label", "rule": "label", "result": "fail", "message": "namespace needs an owner label",
                     "resources": [{"apiVersion": "v1", "kind": "Namespace", "name": "search-api"}]}]})
    return handle, cluster, custom


def write_constraint_status(custom, name: str, status: dict) -> None:
    """As Gatekeeper's audit does: through the status subresource, with the admin's credentials."""
    live = custom.get_cluster_custom_object(*GK, "k8srequiredlabels", name)
    live["status"] = status
    custom.replace_cluster_custom_object_status(*GK, "k8srequiredlabels", name, live)


def test_ingest_stores_every_reported_violation_matched_to_its_team(world):
    _, cluster, _ = world
    result = ingest_cluster(cluster)
    assert result.ok and result.created == 5 and result.resolved == 0
    rows = {(v.source, v.policy, v.rule, v.action, v.object_namespace or v.object_name): v for v in Violation.objects.all()}
    assert set(rows) == {
        ("gatekeeper", "K8sRequiredLabels/must-have-owner", "", "deny", "payments-web"),
        ("gatekeeper", "K8sRequiredLabels/must-have-owner", "", "deny", "search-api"),
        ("policyreport", "require-requests", "check-cpu", "fail", "payments-web"),
        ("policyreport", "disallow-latest", "tag", "warn", "payments-web"),
        ("policyreport", "ns-owner-label", "label", "fail", "search-api"),  # the Namespace object itself
    }
    assert {v.team.slug for v in Violation.objects.filter(object_namespace="payments-web")} == {"payments"}
    assert Violation.objects.get(policy="ns-owner-label").team.slug == "search"
    constraint = Constraint.objects.get()
    assert (constraint.total_violations, constraint.listed_violations, constraint.truncated) == (3, 2, True)
    state = IngestState.objects.get(cluster=cluster)
    assert state.gatekeeper and state.policy_reports and state.failing_since is None


def test_an_unchanged_second_ingest_writes_nothing(world):
    _, cluster, _ = world
    ingest_cluster(cluster)
    with CaptureQueriesContext(connection) as ctx:
        result = ingest_cluster(cluster)
    writes = [q["sql"] for q in ctx.captured_queries if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.I)]
    assert result.ok and result.writes == 0 and writes == []


def test_a_violation_gone_from_the_report_is_resolved_and_a_new_one_opens(world):
    _, cluster, custom = world
    ingest_cluster(cluster)
    write_constraint_status(custom, "must-have-owner", {"totalViolations": 1, "auditTimestamp": "2026-12-03T11:00:00Z", "violations": [
        {"enforcementAction": "deny", "kind": "Pod", "name": "web-2", "namespace": "payments-web", "message": "you must provide labels"}]})
    result = ingest_cluster(cluster)
    assert (result.created, result.resolved) == (1, 2)
    gatekeeper = Violation.objects.filter(source="gatekeeper")
    assert sorted((v.object_name, v.is_open) for v in gatekeeper) == [("api-1", False), ("web-1", False), ("web-2", True)]
    assert not Constraint.objects.get().truncated


def test_unreachable_cluster_is_stale_and_keeps_its_violations(world):
    handle, cluster, _ = world
    ingest_cluster(cluster)
    handle.faults.fail_next(10, status=503)
    result = ingest_cluster(cluster)
    assert not result.ok
    state = IngestState.objects.get(cluster=cluster)
    assert state.failing_since is not None and "503" in state.last_error or "unable" in state.last_error
    assert Violation.objects.filter(resolved_at__isnull=True).count() == 5


def test_a_cluster_without_reports_ingests_to_nothing(kubesim_cluster):
    _, cluster = kubesim_cluster
    assert ingest_cluster(cluster).ok and not Violation.objects.exists()


def test_sync_violations_command(world, capsys):
    call_command("sync_violations", "--cluster", "sim")
    assert "sim: 5 new, 0 resolved" in capsys.readouterr().out


# --- who sees what ----------------------------------------------------------------------------------------


def test_api_scopes_violations_to_the_callers_teams(world, api_client_for, member, outsider, admin_user, auditor, viewer):
    _, cluster, _ = world
    ingest_cluster(cluster)
    mine = api_client_for(member).get("/api/v1/violations/").json()["results"]
    assert {v["team"] for v in mine} == {"payments"} and len(mine) == 3
    assert len(api_client_for(viewer).get("/api/v1/violations/").json()["results"]) == 3
    assert {v["team"] for v in api_client_for(outsider).get("/api/v1/violations/").json()["results"]} == {"search"}
    assert api_client_for(member).get("/api/v1/violations/?team=search").json()["results"] == []  # never widened
    everything = api_client_for(auditor).get("/api/v1/violations/").json()["results"]
    assert len(everything) == 5
    filtered = api_client_for(admin_user).get("/api/v1/violations/?source=policyreport&namespace=payments-web&state=open").json()
    assert {v["policy"] for v in filtered["results"]} == {"require-requests", "disallow-latest"}
    assert api_client_for(admin_user).get("/api/v1/violations/?state=bogus").status_code == 400
    page = api_client_for(admin_user).get("/api/v1/violations/?limit=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]


def test_pages_show_violations_to_the_team_and_the_overview_to_admins(world, client_for, member, outsider, admin_user):
    _, cluster, _ = world
    ingest_cluster(cluster)
    team_page = client_for(member).get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "require-requests" in team_page and "CPU requests are required" in team_page
    assert "Gatekeeper listed 2 of the 3 violations of <code>K8sRequiredLabels/must-have-owner</code>" in team_page
    assert "ns-owner-label" not in team_page  # the other team's
    ns = Namespace.objects.get(name="payments-web")
    assert "disallow-latest" in client_for(member).get(reverse("namespaces:detail", args=[ns.pk])).content.decode()
    assert client_for(member).get(reverse("violations:list")).status_code == 403
    overview = client_for(admin_user).get(reverse("violations:list")).content.decode()
    assert "Open violations per day" in overview and "ns-owner-label" in overview and "checked" in overview
    filtered = client_for(admin_user).get(reverse("violations:list") + "?team=search").content.decode()
    assert "ns-owner-label" in filtered and "require-requests" not in filtered.split("By cluster and policy")[1]


@pytest.mark.browser
def test_team_violations_in_the_browser(world, browser, live_server, member):
    _, cluster, _ = world
    ingest_cluster(cluster)
    page = browser.new_context(base_url=live_server.url).new_page()
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    page.goto(reverse("teams:detail", args=["payments"]))
    section = page.locator("section.violations")
    assert section.locator("tr[data-violation]").count() == 3
    assert "being truncated" not in section.inner_text() and "Gatekeeper listed 2 of the 3" in section.inner_text()


def test_constraints_of_any_template_are_ingested_with_their_description(kubesim_cluster):
    handle, cluster = kubesim_cluster
    custom = k8s.CustomObjectsApi(official_client(handle.admin_kubeconfig))
    custom.create_cluster_custom_object("templates.gatekeeper.sh", "v1", "constrainttemplates", {
        "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sdisallowedtags", "annotations": {"description": "Images must not use disallowed tags."}},
        "spec": {"crd": {"spec": {"names": {"kind": "K8sDisallowedTags"}}}, "targets": []}})
    custom.create_cluster_custom_object(GK[0], GK[1], "k8sdisallowedtags", {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDisallowedTags", "metadata": {"name": "no-latest"},
        "spec": {"enforcementAction": "warn"}})
    live = custom.get_cluster_custom_object(*GK, "k8sdisallowedtags", "no-latest")
    live["status"] = {"totalViolations": 1, "violations": [{"kind": "Pod", "name": "p", "namespace": "team-x", "message": "uses latest"}]}
    custom.replace_cluster_custom_object_status(*GK, "k8sdisallowedtags", "no-latest", live)
    assert ingest_cluster(cluster).created == 1
    violation = Violation.objects.get()
    assert (violation.policy, violation.action, violation.team) == ("K8sDisallowedTags/no-latest", "warn", None)
    assert Constraint.objects.get().description == "Images must not use disallowed tags."
    from django.test import Client

    from apps.accounts.models import User
    from tests.conftest import make_user

    admin = make_user("root", platform_role=User.PlatformRole.ADMIN)
    c = Client()
    c.force_login(admin)
    assert "Images must not use disallowed tags." in c.get(reverse("violations:list")).content.decode()
