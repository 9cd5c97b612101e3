"""``/api/v1/namespaces/``: list/filter, detail (phase, error, attempts), the rendered bundle as JSON
or a YAML stream, and delete — for members, managers, admins and outsiders."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.namespaces.models import Namespace
from apps.teams.models import Membership
from tests.api.conftest import make_cluster
from tests.conftest import make_user

URL = "/api/v1/namespaces/"


def detail(pk) -> str:
    return f"{URL}{pk}/"


# --- list -------------------------------------------------------------------------


def test_member_lists_their_teams_namespaces(api_client_for, member, team, other_team, make_namespace):
    mine = make_namespace(team, name="payments-dev")
    make_namespace(other_team, name="search-dev")
    response = api_client_for(member).get(URL)
    assert response.status_code == 200
    assert [n["id"] for n in response.json()["results"]] == [mine.pk]


def test_outsider_sees_none_of_another_teams_namespaces(api_client_for, outsider, team, make_namespace):
    make_namespace(team, name="payments-dev")
    client = api_client_for(outsider)
    assert client.get(URL).json()["count"] == 0
    assert client.get(URL, {"team": "payments"}).json()["count"] == 0


@pytest.mark.parametrize("who", ["admin_user", "auditor"])
def test_admins_and_auditors_see_every_namespace(request, api_client_for, team, other_team, make_namespace, who):
    make_namespace(team)
    make_namespace(other_team)
    assert api_client_for(request.getfixturevalue(who)).get(URL).json()["count"] == 2


def test_list_filters_by_phase_team_and_cluster(api_client_for, admin_user, team, other_team, make_namespace):
    prod = make_cluster("prod-eu")
    ready = make_namespace(team, name="a", phase=Namespace.Phase.READY)
    failed = make_namespace(team, name="b", phase=Namespace.Phase.FAILED, cluster=prod)
    foreign = make_namespace(other_team, name="c", phase=Namespace.Phase.READY)
    client = api_client_for(admin_user)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {n["id"] for n in response.json()["results"]}

    assert ids(phase="Ready") == {ready.pk, foreign.pk}
    assert ids(phase="Failed") == {failed.pk}
    assert ids(team="payments") == {ready.pk, failed.pk}
    assert ids(cluster="prod-eu") == {failed.pk}
    assert ids(team="search", phase="Ready") == {foreign.pk}


def test_invalid_phase_filter_is_400(api_client_for, member, db_cluster):
    response = api_client_for(member).get(URL, {"phase": "Exploded"})
    assert response.status_code == 400
    assert "phase" in response.json()


def test_list_query_count_does_not_grow_with_rows(api_client_for, member, manager, team, make_namespace, query_count):
    client = api_client_for(member)
    make_namespace(team, owner=member)
    client.get(URL)  # warm up: token last-used stamp
    small, _ = query_count(lambda: client.get(URL))
    clusters = [make_cluster(f"c{i}") for i in range(3)]
    for i in range(20):
        make_namespace(team, owner=member if i % 2 else manager, cluster=clusters[i % 3])
    large, response = query_count(lambda: client.get(URL))
    assert response.json()["count"] == 21
    assert large == small, (small, large)
    assert large <= 4  # auth, count, the page's ids, its rows


# --- detail -----------------------------------------------------------------------


def test_detail_shows_phase_error_attempts_quota_and_expiry(api_client_for, member, team, make_namespace):
    expires = timezone.now() + timedelta(hours=12)
    ns = make_namespace(team, name="payments-dev", owner=member, purpose="checkout", expires_at=expires,
                        phase=Namespace.Phase.PROVISIONING, last_error="cluster dev-eu unreachable: timed out", attempts=3,
                        quota_used={"requests.cpu": "250m"})
    response = api_client_for(member).get(detail(ns.pk))
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "payments-dev" and data["cluster"] == "dev-eu" and data["team"] == "payments"
    assert data["owner"] == "alice" and data["purpose"] == "checkout"
    assert data["phase"] == "Provisioning"
    assert data["last_error"] == "cluster dev-eu unreachable: timed out" and data["attempts"] == 3
    assert data["quota"] == {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}
    assert data["quota_used"] == {"requests.cpu": "250m"}
    assert data["pod_security_level"] == "restricted"
    assert data["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize("who", ["member", "manager", "viewer", "admin_user", "auditor"])
def test_everyone_entitled_can_read_a_namespace(request, api_client_for, team, make_namespace, who):
    ns = make_namespace(team)
    assert api_client_for(request.getfixturevalue(who)).get(detail(ns.pk)).status_code == 200


def test_outsider_gets_404_for_a_namespace(api_client_for, outsider, team, make_namespace):
    ns = make_namespace(team)
    response = api_client_for(outsider).get(detail(ns.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_missing_and_non_numeric_ids_are_404(api_client_for, member, db_cluster):
    client = api_client_for(member)
    assert client.get(detail(424242)).status_code == 404
    assert client.get(f"{URL}payments-dev/").status_code == 404


def test_namespaces_cannot_be_created_or_edited_here(api_client_for, admin_user, team, make_namespace):
    ns = make_namespace(team)
    client = api_client_for(admin_user)
    assert client.post(URL, {"name": "x"}, format="json").status_code == 405
    assert client.patch(detail(ns.pk), {"phase": "Ready"}, format="json").status_code == 405


# --- manifests ----------------------------------------------------------------------


def _kinds(objects) -> list[str]:
    return [o["kind"] for o in objects]


def test_manifests_as_json_list(api_client_for, member, manager, team, make_namespace):
    ns = make_namespace(team, name="payments-dev", owner=member)
    response = api_client_for(member).get(f"{detail(ns.pk)}manifests/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    objects = response.json()
    assert _kinds(objects) == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "NetworkPolicy",
                               "RoleBinding", "RoleBinding"]
    assert objects[0]["metadata"]["name"] == "payments-dev"
    assert objects[1]["spec"]["hard"]["limits.memory"] == "2Gi"
    subjects = {o["subjects"][0]["name"] for o in objects if o["kind"] == "RoleBinding"}
    assert subjects == {member.cluster_identity, manager.cluster_identity}


def test_manifests_as_yaml_stream(api_client_for, member, team, make_namespace):
    ns = make_namespace(team, name="payments-dev", owner=member)
    client = api_client_for(member)
    as_json = client.get(f"{detail(ns.pk)}manifests/").json()

    response = client.get(f"{detail(ns.pk)}manifests/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("---\n") and text.count("\n---\n") == len(as_json) - 1
    documents = list(yaml.safe_load_all(text))
    assert documents == as_json


def test_manifests_yaml_via_format_parameter(api_client_for, member, team, make_namespace):
    ns = make_namespace(team)
    response = api_client_for(member).get(f"{detail(ns.pk)}manifests/", {"format": "yaml"})
    assert response.status_code == 200
    assert _kinds(yaml.safe_load_all(response.content))[0] == "Namespace"


def test_manifests_follow_membership(api_client_for, member, team, make_namespace):
    ns = make_namespace(team)
    client = api_client_for(member)
    assert _kinds(client.get(f"{detail(ns.pk)}manifests/").json()).count("RoleBinding") == 1
    Membership.objects.create(user=make_user("newbie"), team=team, role=Membership.Role.VIEWER)
    assert _kinds(client.get(f"{detail(ns.pk)}manifests/").json()).count("RoleBinding") == 2


def test_outsider_gets_404_for_manifests_in_either_format(api_client_for, outsider, team, make_namespace):
    ns = make_namespace(team)
    client = api_client_for(outsider)
    assert client.get(f"{detail(ns.pk)}manifests/").status_code == 404
    response = client.get(f"{detail(ns.pk)}manifests/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 404
    # The error is still readable in the format the client asked for.
    assert yaml.safe_load(response.content) == {"detail": "Not found."}


def test_manifests_in_an_unsupported_format_is_406(api_client_for, member, team, make_namespace):
    ns = make_namespace(team)
    response = api_client_for(member).get(f"{detail(ns.pk)}manifests/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406


def test_manifests_query_count_does_not_grow_with_members(api_client_for, member, team, make_namespace, query_count):
    ns = make_namespace(team)
    client = api_client_for(member)
    client.get(f"{detail(ns.pk)}manifests/")
    small, _ = query_count(lambda: client.get(f"{detail(ns.pk)}manifests/"))
    for i in range(10):
        Membership.objects.create(user=make_user(f"dev{i}"), team=team, role=Membership.Role.MEMBER)
    large, response = query_count(lambda: client.get(f"{detail(ns.pk)}manifests/"))
    assert _kinds(response.json()).count("RoleBinding") == 11
    assert large == small, (small, large)


# --- delete -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "admin_user"])
def test_manager_or_admin_deletes_and_gets_202(request, api_client_for, team, make_namespace, who):
    ns = make_namespace(team, phase=Namespace.Phase.READY)
    user = request.getfixturevalue(who)
    response = api_client_for(user).delete(detail(ns.pk))
    assert response.status_code == 202, response.content
    assert response.json()["phase"] == "Terminating" and response.json()["id"] == ns.pk
    ns.refresh_from_db()
    assert ns.phase == Namespace.Phase.TERMINATING
    event = AuditEvent.objects.get(action="namespace.delete", target_id=str(ns.pk))
    assert event.via == "api" and event.actor == user


def test_deleting_twice_is_harmless(api_client_for, manager, team, make_namespace):
    ns = make_namespace(team, phase=Namespace.Phase.READY)
    client = api_client_for(manager)
    assert client.delete(detail(ns.pk)).status_code == 202
    again = client.delete(detail(ns.pk))
    assert again.status_code == 202 and again.json()["phase"] == "Terminating"
    assert AuditEvent.objects.filter(action="namespace.delete").count() == 1


@pytest.mark.parametrize("who", ["member", "viewer", "auditor"])
def test_non_managers_cannot_delete(request, api_client_for, team, make_namespace, who):
    ns = make_namespace(team, phase=Namespace.Phase.READY)
    response = api_client_for(request.getfixturevalue(who)).delete(detail(ns.pk))
    assert response.status_code == 403
    assert "only managers of team payments or a platform admin" in response.json()["detail"]
    ns.refresh_from_db()
    assert ns.phase == Namespace.Phase.READY


def test_outsider_gets_404_on_delete(api_client_for, outsider, team, make_namespace):
    """A manager of another team: the namespace does not exist for them."""
    ns = make_namespace(team, phase=Namespace.Phase.READY)
    assert api_client_for(outsider).delete(detail(ns.pk)).status_code == 404
    ns.refresh_from_db()
    assert ns.phase == Namespace.Phase.READY
