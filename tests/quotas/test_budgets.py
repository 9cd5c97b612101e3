"""Team budgets per cluster: set by platform admins, enforced on submit and, under a lock, on approval."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.audit.models import AuditEvent
from apps.namespaces import tasks as ns_tasks
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit
from apps.quotas import services as quota_services
from apps.quotas.models import TeamBudget
from apps.teams.models import Membership
from tests.conftest import make_user
from tests.pages import make_cluster, make_namespace

SMALL = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "10"}


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    monkeypatch.setattr(ns_tasks.reconcile_namespace, "delay", lambda *a, **k: None)
    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a, **k: None)


@pytest.mark.django_db
def test_namespace_request_over_the_budget_is_refused_naming_the_resource_and_the_overshoot(cluster, team, member):
    make_namespace(team, cluster, "payments-a", quota=SMALL)
    TeamBudget.objects.create(team=team, cluster=cluster, hard={"requests.cpu": "1500m", "limits.memory": "8Gi"}, namespaces=5)
    with pytest.raises(Exception) as exc:
        namespace_request_submit(actor=member, team=team, cluster=cluster, name="payments-b", quota=SMALL)
    assert exc.value.message_dict["quota"] == [
        "over the team's budget: requests.cpu: 1 already allocated on sim + 1 requested = 2, over the team's budget of 1500m by 500m"]
    assert not Request.objects.exists()


@pytest.mark.django_db
def test_namespace_count_budget(cluster, team, member):
    make_namespace(team, cluster, "payments-a", quota=SMALL)
    make_namespace(team, cluster, "payments-gone", quota=SMALL, phase=Namespace.Phase.DELETED)
    TeamBudget.objects.create(team=team, cluster=cluster, hard={}, namespaces=1)
    with pytest.raises(Exception) as exc:
        namespace_request_submit(actor=member, team=team, cluster=cluster, name="payments-b", quota=SMALL)
    assert exc.value.message_dict["quota"] == [
        "over the team's budget: namespaces: the team already has 1 live namespace on sim, its budget allows 1"]


@pytest.mark.django_db
def test_other_clusters_and_teams_do_not_count(cluster, team, other_team, member):
    make_namespace(team, make_cluster("prod"), "payments-prod", quota=SMALL)
    make_namespace(other_team, cluster, "search-a", quota=SMALL)
    TeamBudget.objects.create(team=team, cluster=cluster, hard={"requests.cpu": "1"})
    req = namespace_request_submit(actor=member, team=team, cluster=cluster, name="payments-b", quota=SMALL)
    assert req.state == "submitted"


def test_two_managers_approving_at_once_cannot_overspend(transactional_db, kubesim_cluster, team, member, monkeypatch):
    """Two real transactions on PostgreSQL, overlapping: the budget row's lock makes the second see the first."""
    assert connection.vendor == "postgresql"
    _, cluster = kubesim_cluster
    managers = [make_user("bob"), make_user("bea")]
    for m in managers:
        Membership.objects.create(user=m, team=team, role=Membership.Role.MANAGER)
    TeamBudget.objects.create(team=team, cluster=cluster, hard={"requests.cpu": "1500m"})
    requests = [namespace_request_submit(actor=member, team=team, cluster=cluster, name=f"payments-{i}", quota=SMALL)
                for i in range(2)]

    # Widen the window between the budget check and the commit: without the lock
    # both approvals would read "nothing allocated yet" and both succeed.
    original = quota_services.budget_problems

    def slow_budget_problems(**kwargs):
        problems = original(**kwargs)
        if kwargs.get("lock"):
            time.sleep(0.5)
        return problems

    monkeypatch.setattr(quota_services, "budget_problems", slow_budget_problems)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(manager, req):
        try:
            barrier.wait()
            request_approve(actor=manager, request=req, reason="race")
            outcomes.append("approved")
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            outcomes.append(f"refused: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(m, r)) for m, r in zip(managers, requests, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    assert "over the team's budget of 1500m by 500m" in next(o for o in outcomes if o.startswith("refused"))
    assert Namespace.objects.filter(team=team, cluster=cluster).count() == 1
    assert sorted(Request.objects.values_list("state", flat=True)) == ["approved", "submitted"]


# --- setting budgets -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_sets_a_budget_over_the_api_audited(api_client_for, admin_user, team):
    cluster = make_cluster("dev")
    make_namespace(team, cluster, "payments-a", quota=SMALL)
    c = api_client_for(admin_user)
    response = c.put("/api/v1/teams/payments/budgets/dev/", {"hard": {"requests.cpu": "8"}, "namespaces": 3}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"cluster": "dev", "hard": {"requests.cpu": "8"}, "namespaces": 3,
                               "allocated": {"limits.cpu": "2", "limits.memory": "2Gi", "pods": "10", "requests.cpu": "1",
                                             "requests.memory": "1Gi"}, "allocated_namespaces": 1}
    listed = c.get("/api/v1/teams/payments/budgets/").json()
    assert listed[0]["hard"] == {"requests.cpu": "8"}
    event = AuditEvent.objects.get(action="team_budget.create")
    assert event.after == {"hard": {"requests.cpu": "8"}, "namespaces": 3} and event.team == team
    c.put("/api/v1/teams/payments/budgets/dev/", {"hard": {"requests.cpu": "10"}, "namespaces": 3}, format="json")
    assert AuditEvent.objects.get(action="team_budget.update").before == {"hard": {"requests.cpu": "8"}, "namespaces": 3}


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field", "message"), [
    ({"hard": {"requests.cpu": "lots"}}, "hard", "requests.cpu:"),
    ({"hard": {"cpu": "8"}}, "hard", "cpu: unknown resource"),
    ({"hard": {}, "namespaces": -1}, "namespaces", "greater than or equal to 0"),
    ({"hard": "8"}, "hard", "must be an object"),
])
def test_bad_budget_is_a_400_and_changes_nothing(api_client_for, admin_user, team, body, field, message):
    make_cluster("dev")
    response = api_client_for(admin_user).put("/api/v1/teams/payments/budgets/dev/", body, format="json")
    assert response.status_code == 400 and message in str(response.json()[field])
    assert not TeamBudget.objects.exists()


@pytest.mark.django_db
def test_only_admins_set_budgets_and_outsiders_see_nothing(api_client_for, client_for, manager, outsider, team):
    make_cluster("dev")
    assert api_client_for(manager).put("/api/v1/teams/payments/budgets/dev/", {"hard": {}}, format="json").status_code == 403
    assert api_client_for(manager).get("/api/v1/teams/payments/budgets/").status_code == 200
    assert api_client_for(outsider).get("/api/v1/teams/payments/budgets/").status_code == 404
    assert api_client_for(outsider).put("/api/v1/teams/payments/budgets/dev/", {"hard": {}}, format="json").status_code == 404
    assert client_for(manager).get(reverse("quotas:budget", args=["payments", "dev"])).status_code == 403
    assert client_for(outsider).get(reverse("quotas:budget", args=["payments", "dev"])).status_code == 404
    assert not TeamBudget.objects.exists()


@pytest.mark.django_db
def test_team_page_shows_budgets_and_admin_sets_one_on_the_page(client_for, admin_user, team):
    cluster = make_cluster("dev")
    make_namespace(team, cluster, "payments-a", quota=SMALL)
    c = client_for(admin_user)
    page = c.get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "Budgets per cluster" in page and reverse("quotas:budget", args=["payments", "dev"]) in page
    response = c.post(reverse("quotas:budget", args=["payments", "dev"]), {"namespaces": "4", "hard_requests_cpu": "500m"})
    assert response.status_code == 302
    page = c.get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "<code>requests.cpu=500m</code>" in page and "at most 4" in page
    assert TeamBudget.objects.get(team=team).hard == {"requests.cpu": "500m"}
