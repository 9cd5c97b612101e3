"""Team administration: platform admins create, edit, archive and restore teams; managers edit
their own team's description and contact. Pages and API share the services' rules; every change
is audited; the list counts each team's real members."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import User
from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster
from apps.namespaces.models import Namespace
from apps.teams.models import Membership, Team
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from apps.namespaces import tasks as ns_tasks

    monkeypatch.setattr(ns_tasks.reconcile_team, "delay", lambda *a: None)


def a_namespace(team: Team, name: str = "payments-dev", phase=Namespace.Phase.READY) -> Namespace:
    cluster, _ = Cluster.objects.get_or_create(name="dev", defaults={"api_server_url": "https://127.0.0.1:1", "ca_bundle": "x",
                                                                     "auth_kind": "token", "credentials_encrypted": "x"})
    return Namespace.objects.create(cluster=cluster, team=team, name=name, phase=phase)


def actions() -> list[str]:
    """What was audited, besides the API tokens the test clients are given."""
    return list(AuditEvent.objects.exclude(action__startswith="api_token.").order_by("pk").values_list("action", flat=True))


# --- pages ------------------------------------------------------------------------------------------


def test_admin_creates_a_team_with_its_first_manager_on_the_page(client_for, admin_user):
    olga = make_user("olga")
    c = client_for(admin_user)
    assert "New team" in c.get(reverse("teams:list")).content.decode()
    assert c.get(reverse("teams:new")).status_code == 200
    response = c.post(reverse("teams:new"), {
        "slug": "infra", "name": "Infrastructure", "description": "Runs the clusters", "contact": "#infra",
        "manager": "olga", "budget_requests_cpu": "20", "budget_limits_memory": "64Gi"})
    assert response.status_code == 302 and response["Location"] == reverse("teams:detail", args=["infra"])
    team = Team.objects.get(slug="infra")
    assert (team.name, team.description, team.contact) == ("Infrastructure", "Runs the clusters", "#infra")
    assert team.budget == {"requests.cpu": "20", "limits.memory": "64Gi"}
    assert Membership.objects.get(team=team).user == olga and Membership.objects.get(team=team).role == "manager"
    assert actions() == ["team.create", "membership.add"]
    created = AuditEvent.objects.get(action="team.create")
    assert created.actor == admin_user and created.target_repr == "infra" and created.after["budget"] == team.budget
    page = c.get(reverse("teams:detail", args=["infra"])).content.decode()
    assert "Runs the clusters" in page and "requests.cpu=20" in page and "Edit team" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("slug", "Infra_Team", "lowercase letters, digits and '-'"),
    ("slug", "new", "reserved by the portal"),
    ("slug", "payments", "already exists"),
    ("name", "", "This field is required."),
    ("budget_requests_cpu", "lots", "quantity"),
    ("budget_pods", "1.5", "whole number"),
    ("budget_limits_memory", "-1Gi", "greater than zero"),
    ("manager", "nobody", 'no active user "nobody"'),
])
def test_bad_team_input_on_the_page_is_a_field_error_and_creates_nothing(client_for, admin_user, team, field, value,
                                                                         message):
    data = {"slug": "infra", "name": "Infra", "contact": "", "description": "", field: value}
    response = client_for(admin_user).post(reverse("teams:new"), data)
    assert response.status_code == 200  # the form again, with the reason on the field
    page = response.content.decode()
    assert message.replace("'", "&#x27;").replace('"', "&quot;") in page
    assert list(Team.objects.values_list("slug", flat=True)) == ["payments"] and not actions()


@pytest.mark.parametrize("who", ["member", "manager", "auditor", "outsider"])
def test_only_platform_admins_create_teams(client_for, request, who):
    c = client_for(request.getfixturevalue(who))
    assert c.get(reverse("teams:new")).status_code == 403
    assert c.post(reverse("teams:new"), {"slug": "infra", "name": "Infra"}).status_code == 403
    assert not Team.objects.filter(slug="infra").exists()
    assert "New team" not in c.get(reverse("teams:list")).content.decode()


def test_admin_renames_a_team_and_sets_its_budget_audited_field_by_field(client_for, admin_user, team):
    a_namespace(team)
    c = client_for(admin_user)
    page = c.get(reverse("teams:edit", args=["payments"])).content.decode()
    assert "so it is fixed now that the team has namespaces" in page
    response = c.post(reverse("teams:edit", args=["payments"]), {
        "slug": "payments-renamed", "name": "Payments & Billing", "description": "", "contact": "#payments",
        "budget_requests_cpu": "10"})
    assert response.status_code == 302
    team.refresh_from_db()
    # The disabled slug field is ignored: the slug is on every cluster object of the team.
    assert (team.slug, team.name, team.budget) == ("payments", "Payments & Billing", {"requests.cpu": "10"})
    event = AuditEvent.objects.get(action="team.update")
    assert event.before == {"name": "Payments", "budget": {}}
    assert event.after == {"name": "Payments & Billing", "budget": {"requests.cpu": "10"}}


def test_saving_an_unchanged_team_writes_no_audit_row(client_for, admin_user, team):
    c = client_for(admin_user)
    response = c.post(reverse("teams:edit", args=["payments"]),
                      {"slug": "payments", "name": "Payments", "description": "", "contact": "#payments"})
    assert response.status_code == 302 and not actions()


def test_slug_changes_while_the_team_has_no_namespaces(client_for, admin_user, team):
    response = client_for(admin_user).post(reverse("teams:edit", args=["payments"]),
                                           {"slug": "billing", "name": "Billing", "contact": "#payments"})
    assert response.status_code == 302 and response["Location"] == reverse("teams:detail", args=["billing"])
    assert Team.objects.get(pk=team.pk).slug == "billing"


def test_manager_edits_description_and_contact_only(client_for, manager, team):
    c = client_for(manager)
    page = c.get(reverse("teams:edit", args=["payments"])).content.decode()
    assert "you can change its description and contact" in page
    response = c.post(reverse("teams:edit", args=["payments"]), {
        "slug": "hijack", "name": "Hijacked", "description": "We take payments", "contact": "#pay-team",
        "budget_requests_cpu": "1000"})
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.slug, team.name, team.budget) == ("payments", "Payments", {})  # disabled fields ignored
    assert (team.description, team.contact) == ("We take payments", "#pay-team")
    assert AuditEvent.objects.get(action="team.update").after == {"description": "We take payments",
                                                                  "contact": "#pay-team"}


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("viewer", 403), ("auditor", 403), ("outsider", 404)])
def test_others_cannot_edit_a_team(client_for, request, team, who, status):
    c = client_for(request.getfixturevalue(who))
    assert c.get(reverse("teams:edit", args=["payments"])).status_code == status
    assert c.post(reverse("teams:edit", args=["payments"]), {"contact": "#mine", "name": "X", "slug": "x"}).status_code == status
    team.refresh_from_db()
    assert team.contact == "#payments" and not actions()


def test_archiving_a_team_with_live_namespaces_is_refused_with_their_names(client_for, admin_user, team):
    a_namespace(team, "payments-dev")
    a_namespace(team, "payments-old", Namespace.Phase.DELETED)
    c = client_for(admin_user)
    response = c.post(reverse("teams:archive", args=["payments"]), follow=True)
    page = response.content.decode()
    assert "still has 1 live namespace (payments-dev); delete it before archiving" in page
    team.refresh_from_db()
    assert not team.archived and not actions()


def test_archiving_a_team_with_an_open_request_is_refused(client_for, admin_user, member, team):
    Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=member, payload={"role": "member"})
    page = client_for(admin_user).post(reverse("teams:archive", args=["payments"]), follow=True).content.decode()
    assert "has 1 open request; decide or cancel them" in page
    assert not Team.objects.get(pk=team.pk).archived


def test_archived_team_takes_no_requests_until_restored(client_for, admin_user, member, outsider, team):
    c = client_for(admin_user)
    assert c.post(reverse("teams:archive", args=["payments"])).status_code == 302
    team.refresh_from_db()
    assert team.archived and actions() == ["team.archive"]
    page = c.get(reverse("teams:detail", args=["payments"])).content.decode()
    assert "archived-notice" in page and "Restore team" in page

    from apps.onboarding.services import membership_request_submit

    with pytest.raises(Exception, match="archived"):
        membership_request_submit(actor=outsider, team=team)
    # Newcomers do not see it in the join directory; members cannot pick it on the request form.
    assert "payments" not in client_for(outsider).get(reverse("onboarding:join")).content.decode()
    form_page = client_for(member).get(reverse("namespaces:request")).content.decode()
    assert 'value="payments"' not in form_page

    assert c.post(reverse("teams:restore", args=["payments"])).status_code == 302
    team.refresh_from_db()
    assert not team.archived and actions() == ["team.archive", "team.restore"]


@pytest.mark.parametrize("who", ["manager", "member", "auditor"])
def test_only_platform_admins_archive(client_for, request, team, who):
    c = client_for(request.getfixturevalue(who))
    assert c.post(reverse("teams:archive", args=["payments"])).status_code == 403
    assert not Team.objects.get(pk=team.pk).archived


def test_archive_and_edit_need_post_and_csrf(admin_user, team):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(admin_user)
    assert c.get(reverse("teams:archive", args=["payments"])).status_code == 405
    assert c.post(reverse("teams:archive", args=["payments"])).status_code == 403  # no CSRF token
    assert c.post(reverse("teams:new"), {"slug": "infra", "name": "Infra"}).status_code == 403
    assert not Team.objects.get(pk=team.pk).archived and not Team.objects.filter(slug="infra").exists()


# --- the member count (defect: 1 for every team to non-admins) ----------------------------------------


def test_team_list_shows_the_real_member_count_to_members(client_for, member, manager, viewer, team):
    page = client_for(member).get(reverse("teams:list")).content.decode()
    assert "<td>3</td>" in page


# --- API --------------------------------------------------------------------------------------------------


def test_api_admin_creates_a_team(api_client_for, admin_user):
    make_user("olga")
    response = api_client_for(admin_user).post("/api/v1/teams/", {
        "slug": "infra", "name": "Infra", "contact": "#infra", "budget": {"requests.cpu": "20"}, "manager": "olga"},
        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"].endswith("/api/v1/teams/infra/")
    assert body == {"slug": "infra", "name": "Infra", "description": "", "contact": "#infra",
                    "budget": {"requests.cpu": "20"}, "archived": False, "created_at": body["created_at"],
                    "role": None, "member_count": 1}
    assert actions() == ["team.create", "membership.add"]


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"slug": "Infra!", "name": "X"}, "slug", "lowercase letters"),
    ({"slug": "infra"}, "name", "This field is required."),
    ({"slug": "infra", "name": 5}, "name", "must be a string"),
    ({"slug": "infra", "name": "X", "budget": {"requests.cpu": True}}, "budget", "must be a quantity string"),
    ({"slug": "infra", "name": "X", "budget": {"requests.cpu": "0"}}, "budget", "greater than zero"),
    ({"slug": "infra", "name": "X", "budget": {"cpu": "5"}}, "budget", "unknown resource"),
    ({"slug": "infra", "name": "X", "budget": "lots"}, "budget", "must be an object"),
    ({"slug": "infra", "name": "X", "manager": "nobody"}, "manager", 'no active user "nobody"'),
    ({"slug": "infra", "name": "X", "colour": "red"}, "colour", "unknown field"),
])
def test_api_bad_team_input_is_400_on_the_field(api_client_for, admin_user, payload, field, message):
    response = api_client_for(admin_user).post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Team.objects.exists() and not actions()


@pytest.mark.parametrize("who", ["member", "manager", "auditor"])
def test_api_only_admins_create_teams(api_client_for, request, who):
    response = api_client_for(request.getfixturevalue(who)).post("/api/v1/teams/", {"slug": "infra", "name": "X"},
                                                                 format="json")
    assert response.status_code == 403 and "platform admins" in response.json()["detail"]
    assert not Team.objects.filter(slug="infra").exists()


def test_api_manager_patches_description_and_contact_but_not_budget(api_client_for, manager, team):
    c = api_client_for(manager)
    response = c.patch("/api/v1/teams/payments/", {"contact": "#pay", "description": "Card payments"}, format="json")
    assert response.status_code == 200 and response.json()["contact"] == "#pay"
    response = c.patch("/api/v1/teams/payments/", {"contact": "#other", "budget": {"pods": "10"}}, format="json")
    assert response.status_code == 403 and "budget" in response.json()["detail"]
    team.refresh_from_db()
    assert (team.contact, team.budget) == ("#pay", {})  # nothing of the refused PATCH applied


def test_api_patch_is_all_or_nothing_when_archiving_is_refused(api_client_for, admin_user, team):
    a_namespace(team)
    response = api_client_for(admin_user).patch("/api/v1/teams/payments/", {"name": "Renamed", "archived": True},
                                                format="json")
    assert response.status_code == 409 and "payments-dev" in response.json()["detail"]
    team.refresh_from_db()
    assert team.name == "Payments" and not team.archived and not actions()


def test_api_archive_and_restore(api_client_for, admin_user, team):
    c = api_client_for(admin_user)
    assert c.patch("/api/v1/teams/payments/", {"archived": True}, format="json").json()["archived"] is True
    assert c.patch("/api/v1/teams/payments/", {"archived": False}, format="json").json()["archived"] is False
    assert actions() == ["team.archive", "team.restore"]


def test_api_slug_is_fixed_once_the_team_has_namespaces(api_client_for, admin_user, team):
    a_namespace(team)
    response = api_client_for(admin_user).patch("/api/v1/teams/payments/", {"slug": "billing"}, format="json")
    assert response.status_code == 400 and "cannot change" in response.json()["slug"][0]


def test_api_empty_patch_is_400(api_client_for, admin_user, team):
    response = api_client_for(admin_user).patch("/api/v1/teams/payments/", {}, format="json")
    assert response.status_code == 400


def test_api_outsider_gets_404_for_get_and_patch(api_client_for, outsider, team):
    c = api_client_for(outsider)
    assert c.get("/api/v1/teams/payments/").status_code == 404
    assert c.patch("/api/v1/teams/payments/", {"contact": "#x"}, format="json").status_code == 404
    assert Team.objects.get(pk=team.pk).contact == "#payments"


def test_api_member_count_is_the_teams_not_the_viewers(api_client_for, member, manager, team):
    body = api_client_for(member).get("/api/v1/teams/payments/").json()
    assert body["member_count"] == 2 and body["role"] == "member"


# --- queries stay flat as teams grow ------------------------------------------------------------------------


def _teams_of_fifty(count: int, viewer: User) -> None:
    start = Team.objects.count()
    teams = Team.objects.bulk_create([Team(slug=f"team-{start + i}", name=f"Team {start + i}") for i in range(count)])
    users = User.objects.bulk_create([User(username=f"u{start}-{i}") for i in range(count * 50)])
    Membership.objects.bulk_create(
        [Membership(team=t, user=users[ti * 50 + j], role="manager" if j == 0 else "member")
         for ti, t in enumerate(teams) for j in range(50)]
        + [Membership(team=t, user=viewer, role="viewer") for t in teams])


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_team_list_and_detail_queries_stay_flat_with_1_10_and_100_teams_of_50(client_for, api_client_for):
    viewer = make_user("watcher")
    admin = make_user("root", platform_role=User.PlatformRole.ADMIN)
    pages, api = client_for(viewer), api_client_for(viewer)
    admin_page = client_for(admin)
    api.get("/api/v1/")  # the token's first use records last_used once; not part of what is measured
    counts = []
    for total in (1, 10, 100):
        _teams_of_fifty(total - Team.objects.count(), viewer)
        assert Team.objects.count() == total
        counts.append((_queries(pages, reverse("teams:list")), _queries(pages, reverse("teams:detail", args=["team-0"])),
                       _queries(admin_page, reverse("teams:list")), _queries(api, "/api/v1/teams/?limit=500"),
                       _queries(api, "/api/v1/teams/team-0/")))
    page = pages.get(reverse("teams:list")).content.decode()
    assert page.count("<td>51</td>") == 100  # every team's real size, to a viewer of all of them
    assert counts[0] == counts[1] == counts[2], counts
