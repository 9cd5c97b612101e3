"""``/api/v1/namespace-requests/``: submit (rules, bad input, idempotency), list/filter, detail,
approve/reject (managers, four-eyes, decide once), cancel — for every kind of user."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from apps.approvals.models import Request
from apps.audit.models import AuditEvent
from apps.namespaces.models import Namespace
from apps.teams.models import Membership
from tests.api.conftest import make_cluster
from tests.conftest import make_user

URL = "/api/v1/namespace-requests/"


def detail(pk) -> str:
    return f"{URL}{pk}/"


def body(**overrides) -> dict:
    data = {
        "cluster": "dev-eu",
        "team": "payments",
        "name": "payments-dev",
        "purpose": "staging for the checkout service",
        "quota": {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


# --- submit -----------------------------------------------------------------------


def test_member_submits_request_and_gets_201_with_the_request(api_client_for, member, team, db_cluster):
    response = api_client_for(member).post(URL, body(ttl_hours=48), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "namespace"
    assert data["state"] == "submitted"
    assert data["team"] == "payments" and data["cluster"] == "dev-eu" and data["name"] == "payments-dev"
    assert data["requester"] == "alice" and data["decider"] is None and data["namespace"] is None
    assert data["purpose"] == "staging for the checkout service"
    assert data["quota"] == {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}
    assert data["ttl_hours"] == 48
    assert data["pod_security_level"] == "baseline"  # the cluster's default
    assert response["Location"].endswith(detail(data["id"]))
    request = Request.objects.get(pk=data["id"])
    assert request.requester == member and request.team == team and request.cluster == db_cluster
    event = AuditEvent.objects.get(action="request.submit", target_id=str(request.pk))
    assert event.via == "api" and event.actor == member


def test_manager_can_submit_too(api_client_for, manager, db_cluster):
    assert api_client_for(manager).post(URL, body(), format="json").status_code == 201


def test_omitted_optional_fields_get_defaults(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, {"cluster": "dev-eu", "team": "payments", "name": "tiny"}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["quota"] == settings.DEFAULT_NAMESPACE_QUOTA
    assert data["ttl_hours"] is None and data["purpose"] == ""
    assert data["pod_security_level"] == "baseline"


def test_explicit_pod_security_level_is_kept(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(pod_security_level="restricted"), format="json")
    assert response.status_code == 201
    assert response.json()["pod_security_level"] == "restricted"


def test_outsider_cannot_submit_for_a_team_and_learns_nothing_about_it(api_client_for, outsider, team, db_cluster):
    client = api_client_for(outsider)
    foreign = client.post(URL, body(team="payments"), format="json")
    unknown = client.post(URL, body(team="no-such-team"), format="json")

    assert foreign.status_code == 400
    assert foreign.json() == {"team": ['you are not a member of a team "payments"']}
    # Same answer for a team that does not exist: existence is not leaked.
    assert unknown.status_code == 400
    assert unknown.json() == {"team": ['you are not a member of a team "no-such-team"']}
    assert not Request.objects.exists()


def test_viewer_is_refused_with_403_and_a_reason(api_client_for, viewer, db_cluster):
    response = api_client_for(viewer).post(URL, body(), format="json")
    assert response.status_code == 403
    assert "only members of team payments" in response.json()["detail"]
    assert not Request.objects.exists()


def test_platform_admin_who_is_not_a_member_cannot_submit(api_client_for, admin_user, team, db_cluster):
    response = api_client_for(admin_user).post(URL, body(), format="json")
    assert response.status_code == 403
    assert "only members" in response.json()["detail"]


def test_long_purpose_gets_the_services_message(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(purpose="x" * 201), format="json")
    assert response.status_code == 400
    assert response.json() == {"purpose": ["must be at most 200 characters"]}


def test_unknown_cluster_is_a_field_error(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(cluster="mars"), format="json")
    assert response.status_code == 400
    assert response.json() == {"cluster": ['no cluster named "mars"']}


def test_missing_required_fields_are_listed(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"cluster", "team", "name"}


def test_malformed_json_is_400_with_a_parse_error(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, data='{"cluster": "dev-eu", "name": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_body_that_is_not_an_object_is_refused(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, ["payments-dev"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_form_encoded_body_is_415(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, {"cluster": "dev-eu", "team": "payments", "name": "x"})
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": 123}, "name", "must be a string"),
        ({"cluster": ["dev-eu"]}, "cluster", "must be a string"),
        ({"team": 7}, "team", "must be a team slug (a string)"),
        ({"purpose": {"text": "x"}}, "purpose", "must be a string"),
        ({"quota": ["requests.cpu", "1"]}, "quota", "must be an object of resource name to quantity"),
        ({"quota": {"requests.cpu": True}}, "quota", "requests.cpu: must be a quantity string"),
        ({"quota": {"limits.memory": {"value": "2Gi"}}}, "quota", "limits.memory: must be a quantity string"),
        ({"ttl_hours": "12"}, "ttl_hours", "must be an integer"),
        ({"ttl_hours": 1.5}, "ttl_hours", "must be an integer"),
        ({"ttl_hours": True}, "ttl_hours", "must be an integer"),
        ({"pod_security_level": "lax"}, "pod_security_level", "is not a valid choice"),
    ],
)
def test_wrong_types_are_field_errors(api_client_for, member, db_cluster, overrides, field, message):
    response = api_client_for(member).post(URL, body(**overrides), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [field], errors
    assert message in " ".join(errors[field])
    assert not Request.objects.exists()


def test_unknown_and_read_only_fields_are_refused(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(colour="blue", state="approved"), format="json")
    assert response.status_code == 400
    assert response.json() == {"colour": ["unknown field"], "state": ["unknown field"]}


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        ({"requests.cpu": "lots"}, 'requests.cpu: "lots" is not a Kubernetes quantity'),
        ({"requests.cpu": "2", "limits.cpu": "1"}, "limits.cpu: must be at least requests.cpu (2)"),
        ({"requests.memory": "2Gi", "limits.memory": "1500Mi"}, "limits.memory: must be at least requests.memory (2Gi)"),
        ({"limits.cpu": "0"}, "limits.cpu: must be greater than zero"),
        ({"limits.cpu": "-1"}, "limits.cpu: must be greater than zero"),
        ({"limits.memory": "1000000Gi"}, "limits.memory: must be at most 4Ti"),
        ({"pods": "1.5"}, "pods: must be a whole number"),
        ({"gpus": "1"}, "gpus: unknown resource"),
    ],
)
def test_bad_quantities_are_quota_field_errors(api_client_for, member, db_cluster, quota, message):
    response = api_client_for(member).post(URL, body(quota=quota), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["quota"]
    assert any(m.startswith(message) for m in errors["quota"]), errors


@pytest.mark.parametrize(
    ("value", "hint"),
    [("2 Gi", "remove the spaces (write 2Gi, not 2 Gi)"), ("NaN", "write a number followed by an optional unit"),
     (" 1Gi", "remove the spaces"), ("1e", "write a number followed by an optional unit")],
)
def test_quantity_the_api_server_would_refuse_is_a_400_naming_the_resource_and_changes_nothing(
        api_client_for, member, db_cluster, value, hint):
    client = api_client_for(member)  # (creating its token is audited)
    audit_before = AuditEvent.objects.count()
    response = client.post(URL, body(quota={"requests.memory": value, "limits.memory": "4Gi"}), format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["quota"]
    assert message.startswith(f'requests.memory: "{value}" is not a Kubernetes quantity: {hint}'), message
    assert "examples: 500m, 2, 1.5, 512Mi, 2Gi, 1e3" in message
    assert not Request.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_outsider_with_a_bad_quantity_learns_nothing_about_the_team(api_client_for, outsider, team, db_cluster):
    response = api_client_for(outsider).post(URL, body(quota={"requests.memory": "2 Gi"}), format="json")
    assert response.status_code == 400
    assert response.json()["team"] == ['you are not a member of a team "payments"']
    assert not Request.objects.exists()


def test_integer_quantities_are_accepted(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(quota={"pods": 20, "requests.cpu": "500m"}), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["quota"] == {"pods": "20", "requests.cpu": "500m"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("default", "is reserved"),
        ("kube-system", "is reserved"),
        ("kube-anything", "is reserved"),
        ("Payments_Dev", "must consist of lower case letters"),
        ("-leading-dash", "must consist of lower case letters"),
        ("", "may not be blank"),
        ("a" * 64, "no more than 63 characters"),
        ("a" * 300, "no more than 63 characters (it is 300)"),
    ],
)
def test_bad_names_are_name_field_errors(api_client_for, member, db_cluster, name, message):
    response = api_client_for(member).post(URL, body(name=name), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["name"]
    assert message in errors["name"][0]


def test_name_of_an_existing_namespace_is_refused(api_client_for, member, team, make_namespace):
    make_namespace(team, name="payments-dev")
    response = api_client_for(member).post(URL, body(), format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ['a namespace "payments-dev" already exists on cluster dev-eu']}


def test_name_of_a_pending_request_is_refused_even_from_another_team(api_client_for, member, outsider, other_team, make_request):
    make_request(outsider, other_team, name="payments-dev")
    response = api_client_for(member).post(URL, body(), format="json")
    assert response.status_code == 400
    assert "already requested on cluster dev-eu" in response.json()["name"][0]


def test_same_name_on_another_cluster_is_fine(api_client_for, member, team, make_namespace, db_cluster):
    make_namespace(team, name="payments-dev")
    make_cluster("prod-eu")
    assert api_client_for(member).post(URL, body(cluster="prod-eu"), format="json").status_code == 201


def test_name_of_a_deleted_namespace_can_be_reused(api_client_for, member, team, make_namespace):
    make_namespace(team, name="payments-dev", phase=Namespace.Phase.DELETED)
    assert api_client_for(member).post(URL, body(), format="json").status_code == 201


@pytest.mark.parametrize(("ttl", "ok"), [(0, False), (-5, False), (1, True), (None, True)])
def test_ttl_lower_bound(api_client_for, member, db_cluster, ttl, ok):
    response = api_client_for(member).post(URL, body(ttl_hours=ttl), format="json")
    assert response.status_code == (201 if ok else 400), response.content
    if not ok:
        assert response.json() == {"ttl_hours": ["must be a whole number of hours, at least 1"]}


def test_ttl_upper_bound(api_client_for, member, db_cluster):
    client = api_client_for(member)
    limit = settings.NAMESPACE_MAX_TTL_HOURS
    too_long = client.post(URL, body(ttl_hours=limit + 1), format="json")
    assert too_long.status_code == 400
    assert too_long.json() == {"ttl_hours": [f"must be at most {limit} hours"]}
    assert client.post(URL, body(ttl_hours=limit), format="json").status_code == 201


def test_several_problems_are_reported_together(api_client_for, member, db_cluster):
    response = api_client_for(member).post(URL, body(name="default", quota={"limits.cpu": "x"}, ttl_hours=0), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "quota", "ttl_hours"}


# --- idempotency ------------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_request_with_200(api_client_for, member, db_cluster):
    client = api_client_for(member)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="ci-run-42")
    second = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="ci-run-42")

    assert first.status_code == 201, first.content
    assert second.status_code == 200, second.content
    assert second.json() == first.json()
    assert Request.objects.count() == 1
    assert AuditEvent.objects.filter(action="request.submit").count() == 1


def test_replay_after_the_request_was_decided_still_returns_it(api_client_for, member, manager, db_cluster):
    client = api_client_for(member)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    api_client_for(manager).post(f"{detail(first.json()['id'])}reject/", {"reason": "no"}, format="json")

    replay = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"] and replay.json()["state"] == "rejected"
    assert Request.objects.count() == 1


def test_without_a_key_a_resubmit_is_a_duplicate_name(api_client_for, member, db_cluster):
    client = api_client_for(member)
    assert client.post(URL, body(), format="json").status_code == 201
    again = client.post(URL, body(), format="json")
    assert again.status_code == 400 and "already requested" in again.json()["name"][0]


def test_reusing_a_key_for_a_different_request_is_422(api_client_for, member, db_cluster):
    client = api_client_for(member)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k2")
    other = client.post(URL, body(name="something-else"), format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert other.status_code == 422
    assert f"#{first.json()['id']}" in other.json()["detail"]
    assert Request.objects.count() == 1


@pytest.mark.parametrize("field, change", [
    ("name", {"name": "something-else"}),
    ("purpose", {"purpose": "another purpose"}),
    ("quota", {"quota": {"requests.cpu": "1", "limits.cpu": "3"}}),
    ("ttl_hours", {"ttl_hours": 48}),
    ("pod_security_level", {"pod_security_level": "privileged"}),
])
def test_a_key_reused_with_any_different_field_is_422_naming_it(api_client_for, member, db_cluster, field, change):
    client = api_client_for(member)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    other = client.post(URL, {**body(), **change}, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    assert other.status_code == 422
    assert other.json()["field"] == field and f"`{field}`" in other.json()["detail"]
    assert Request.objects.count() == 1
    replay = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="same-key")
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]


def test_a_replay_that_omits_a_defaulted_field_is_the_same_request(api_client_for, member, db_cluster):
    client = api_client_for(member)
    first = client.post(URL, {**body(), "pod_security_level": db_cluster.default_pod_security}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k5")

    replay = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k5")

    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]


def test_key_already_used_for_another_kind_of_request_is_422(api_client_for, member, team, db_cluster):
    Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=member, idempotency_key="k4")
    response = api_client_for(member).post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k4")
    assert response.status_code == 422 and response.json()["field"] == "kind"
    assert Request.objects.filter(kind=Request.Kind.NAMESPACE).count() == 0


def test_keys_are_per_user(api_client_for, member, manager, db_cluster):
    first = api_client_for(member).post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    second = api_client_for(manager).post(URL, body(name="other-name"), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 129, "has space", "ünïcode"])
def test_unusable_idempotency_key_is_400(api_client_for, member, db_cluster, key):
    response = api_client_for(member).post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Request.objects.exists()


def test_replay_of_an_invalid_submit_is_still_invalid(api_client_for, member, db_cluster):
    client = api_client_for(member)
    for _ in range(2):
        response = client.post(URL, body(name="default"), format="json", HTTP_IDEMPOTENCY_KEY="k3")
        assert response.status_code == 400
    assert not Request.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_with_the_same_key_create_one_request(api_client_for, member, db_cluster):
    """Two clients race with one key: one 201, one 200, one row (the advisory lock orders them)."""
    clients = [api_client_for(member) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    results: list = []

    def submit(client):
        try:
            barrier.wait()
            response = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="race")
            results.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()  # each thread has its own connection; don't leak it

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(code for code, _ in results) == [200, 200, 200, 201]
    assert len({pk for _, pk in results}) == 1
    assert Request.objects.count() == 1


# --- list and detail ----------------------------------------------------------------


def test_member_lists_their_teams_requests_only(api_client_for, member, manager, outsider, team, other_team, make_request):
    mine = make_request(member, team)
    colleague = make_request(manager, team)
    make_request(outsider, other_team)

    response = api_client_for(member).get(URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert {r["id"] for r in data["results"]} == {mine.pk, colleague.pk}


def test_outsider_sees_none_of_another_teams_requests(api_client_for, member, outsider, team, make_request):
    make_request(member, team)
    response = api_client_for(outsider).get(URL)
    assert response.status_code == 200 and response.json()["count"] == 0
    # Filtering by the other team's slug does not widen visibility.
    assert api_client_for(outsider).get(URL, {"team": "payments"}).json()["count"] == 0


@pytest.mark.parametrize("who", ["admin_user", "auditor"])
def test_admins_and_auditors_see_every_request(request, api_client_for, member, outsider, team, other_team, make_request, who):
    make_request(member, team)
    make_request(outsider, other_team)
    user = request.getfixturevalue(who)
    assert api_client_for(user).get(URL).json()["count"] == 2


def test_list_filters_by_state_team_and_cluster(api_client_for, admin_user, member, manager, outsider, team, other_team, make_request):
    prod = make_cluster("prod-eu")
    submitted = make_request(member, team)
    rejected = make_request(member, team, cluster=prod)
    api_client_for(manager).post(f"{detail(rejected.pk)}reject/", {}, format="json")
    foreign = make_request(outsider, other_team)
    client = api_client_for(admin_user)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids(state="submitted") == {submitted.pk, foreign.pk}
    assert ids(state="rejected") == {rejected.pk}
    assert ids(team="payments") == {submitted.pk, rejected.pk}
    assert ids(cluster="prod-eu") == {rejected.pk}
    assert ids(team="search", state="submitted") == {foreign.pk}
    assert ids(requester="alice") == {submitted.pk, rejected.pk}


def test_invalid_state_filter_is_400(api_client_for, member, db_cluster):
    response = api_client_for(member).get(URL, {"state": "bogus"})
    assert response.status_code == 400
    assert "state" in response.json()


def test_list_is_paginated_with_limit_offset(api_client_for, member, team, make_request):
    for _ in range(3):
        make_request(member, team)
    data = api_client_for(member).get(URL, {"limit": 2}).json()
    assert data["count"] == 3 and len(data["results"]) == 2 and "offset=2" in data["next"]


def test_list_query_count_does_not_grow_with_rows(api_client_for, member, manager, team, make_request, query_count):
    client = api_client_for(member)
    make_request(member, team)
    client.get(URL)  # warm up: token last-used stamp

    small, response = query_count(lambda: client.get(URL))
    assert response.json()["count"] == 1
    for i in range(15):
        req = make_request(member if i % 2 else manager, team)
        if i % 3 == 0:
            api_client_for(manager if i % 2 else member).post(f"{detail(req.pk)}reject/", {"reason": "x"}, format="json")
    large, response = query_count(lambda: client.get(URL))
    assert response.json()["count"] == 16
    assert large == small, (small, large)
    assert large <= 4


def test_member_gets_one_request(api_client_for, member, team, make_request):
    req = make_request(member, team, purpose="why not", ttl_hours=5)
    response = api_client_for(member).get(detail(req.pk))
    assert response.status_code == 200
    assert response.json()["id"] == req.pk and response.json()["purpose"] == "why not" and response.json()["ttl_hours"] == 5


def test_outsider_gets_404_for_a_request(api_client_for, member, outsider, team, make_request):
    req = make_request(member, team)
    response = api_client_for(outsider).get(detail(req.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_missing_and_non_numeric_ids_are_404(api_client_for, member, db_cluster):
    client = api_client_for(member)
    assert client.get(detail(999999)).status_code == 404
    assert client.get(f"{URL}abc/").status_code == 404


def test_membership_requests_are_not_served_here(api_client_for, member, team):
    membership_request = Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=member)
    client = api_client_for(member)
    assert client.get(detail(membership_request.pk)).status_code == 404
    assert client.get(URL).json()["count"] == 0


# --- approve / reject ---------------------------------------------------------------


def test_manager_approves_and_a_namespace_is_created(api_client_for, member, manager, team, make_request):
    req = make_request(member, team, name="payments-dev", ttl_hours=24)
    response = api_client_for(manager).post(f"{detail(req.pk)}approve/", {"reason": "looks fine"}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "approved" and data["decider"] == "bob" and data["reason"] == "looks fine"
    assert data["decided_at"] is not None
    namespace = Namespace.objects.get(pk=data["namespace"])
    assert namespace.name == "payments-dev" and namespace.team == team and namespace.expires_at is not None
    assert AuditEvent.objects.filter(action="request.approve", target_id=str(req.pk), via="api").exists()


def test_approving_a_request_whose_stored_quota_the_cluster_would_refuse_is_a_400(api_client_for, member, manager, outsider, team, make_request):
    req = make_request(member, team)
    # Stored while the portal's parser still took "2 Gi".
    Request.objects.filter(pk=req.pk).update(payload={**req.payload, "quota": {"requests.memory": "2 Gi"}})
    client = api_client_for(manager)
    audit_before = AuditEvent.objects.count()
    response = client.post(f"{detail(req.pk)}approve/", {}, format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["quota"]
    assert message.startswith('requests.memory: "2 Gi" is not a Kubernetes quantity: remove the spaces')
    req.refresh_from_db()
    assert req.state == Request.State.SUBMITTED and not Namespace.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    # An outsider learns nothing from the same call.
    assert api_client_for(outsider).post(f"{detail(req.pk)}approve/", {}, format="json").status_code == 404


def test_approve_without_a_body_is_fine(api_client_for, member, manager, team, make_request):
    req = make_request(member, team)
    response = api_client_for(manager).post(f"{detail(req.pk)}approve/")
    assert response.status_code == 200, response.content
    assert response.json()["reason"] == ""


def test_platform_admin_approves_any_team(api_client_for, member, admin_user, team, make_request):
    req = make_request(member, team)
    assert api_client_for(admin_user).post(f"{detail(req.pk)}approve/", {}, format="json").status_code == 200


def test_requester_cannot_approve_their_own_request(api_client_for, manager, team, make_request):
    req = make_request(manager, team)
    response = api_client_for(manager).post(f"{detail(req.pk)}approve/", {}, format="json")
    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]
    req.refresh_from_db()
    assert req.state == Request.State.SUBMITTED


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_member_cannot_decide(api_client_for, member, manager, team, make_request, decision):
    req = make_request(manager, team)
    response = api_client_for(member).post(f"{detail(req.pk)}{decision}/", {}, format="json")
    assert response.status_code == 403
    assert "only managers of team payments or a platform admin" in response.json()["detail"]


def test_auditor_sees_but_cannot_decide(api_client_for, member, auditor, team, make_request):
    req = make_request(member, team)
    client = api_client_for(auditor)
    assert client.get(detail(req.pk)).status_code == 200
    assert client.post(f"{detail(req.pk)}approve/", {}, format="json").status_code == 403


@pytest.mark.parametrize("decision", ["approve", "reject", "cancel"])
def test_outsider_gets_404_on_decisions(api_client_for, member, outsider, team, make_request, decision):
    """Even a manager of another team: the request is invisible to them."""
    req = make_request(member, team)
    response = api_client_for(outsider).post(f"{detail(req.pk)}{decision}/", {"reason": "x"} if decision != "cancel" else {},
                                             format="json")
    assert response.status_code == 404
    req.refresh_from_db()
    assert req.state == Request.State.SUBMITTED


def test_deciding_twice_is_409(api_client_for, member, manager, admin_user, team, make_request):
    req = make_request(member, team)
    assert api_client_for(manager).post(f"{detail(req.pk)}approve/", {}, format="json").status_code == 200

    again = api_client_for(admin_user).post(f"{detail(req.pk)}reject/", {"reason": "changed my mind"}, format="json")
    assert again.status_code == 409
    assert "already approved" in again.json()["detail"]


def test_manager_rejects_with_a_reason(api_client_for, member, manager, team, make_request):
    req = make_request(member, team)
    response = api_client_for(manager).post(f"{detail(req.pk)}reject/", {"reason": "use the shared namespace"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected" and response.json()["reason"] == "use the shared namespace"
    assert not Namespace.objects.exists()
    # The name is free again once the request is no longer pending.
    assert api_client_for(member).post(URL, body(name=req.name), format="json").status_code == 201


@pytest.mark.parametrize("payload", [{"reason": 5}, {"reason": "ok", "force": True}, ["ok"]])
def test_bad_decision_bodies_are_400(api_client_for, member, manager, team, make_request, payload):
    req = make_request(member, team)
    response = api_client_for(manager).post(f"{detail(req.pk)}approve/", payload, format="json")
    assert response.status_code == 400
    req.refresh_from_db()
    assert req.state == Request.State.SUBMITTED


# --- cancel -----------------------------------------------------------------------


def test_requester_cancels_their_request(api_client_for, member, team, make_request):
    req = make_request(member, team)
    response = api_client_for(member).post(f"{detail(req.pk)}cancel/", format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"


def test_someone_else_cannot_cancel(api_client_for, member, manager, team, make_request):
    req = make_request(member, team)
    response = api_client_for(manager).post(f"{detail(req.pk)}cancel/", format="json")
    assert response.status_code == 403
    assert "only the requester" in response.json()["detail"]


def test_cancelling_a_decided_request_is_409(api_client_for, member, manager, team, make_request):
    req = make_request(member, team)
    api_client_for(manager).post(f"{detail(req.pk)}reject/", {}, format="json")
    response = api_client_for(member).post(f"{detail(req.pk)}cancel/", format="json")
    assert response.status_code == 409


def test_cancel_takes_no_fields(api_client_for, member, team, make_request):
    req = make_request(member, team)
    response = api_client_for(member).post(f"{detail(req.pk)}cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"reason": ["unknown field"]}


def test_member_who_left_the_team_still_sees_their_own_request(api_client_for, member, team, make_request):
    req = make_request(member, team)
    Membership.objects.filter(user=member, team=team).delete()
    assert api_client_for(member).get(detail(req.pk)).status_code == 200


def test_inactive_requester_token_is_refused(api_client_for, db):
    user = make_user("ghost")
    client = api_client_for(user)
    user.is_active = False
    user.save()
    assert client.get(URL).status_code == 401


# --- bundle preview ---------------------------------------------------------------


def test_preview_shows_the_bundle_before_approval(api_client_for, member, manager, team, make_request):
    import yaml

    req = make_request(member, team, name="payments-dev", quota={"requests.cpu": "1", "limits.cpu": "3"})
    client = api_client_for(manager)
    objects = client.get(f"{detail(req.pk)}manifests/").json()
    assert [o["kind"] for o in objects][:3] == ["Namespace", "ResourceQuota", "LimitRange"]
    assert objects[0]["metadata"]["name"] == "payments-dev"
    assert objects[1]["spec"]["hard"] == {"limits.cpu": "3", "requests.cpu": "1"}
    stream = client.get(f"{detail(req.pk)}manifests/", HTTP_ACCEPT="application/yaml")
    assert list(yaml.safe_load_all(stream.content)) == objects


def test_outsider_gets_404_for_a_preview(api_client_for, member, outsider, team, make_request):
    req = make_request(member, team)
    assert api_client_for(outsider).get(f"{detail(req.pk)}manifests/").status_code == 404
