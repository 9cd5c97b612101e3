"""Namespace pages: dashboard, request form with live validation, detail, YAML export, delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.approvals.models import Request
from apps.approvals.services import request_reject
from apps.audit.models import AuditEvent
from apps.namespaces.models import Namespace
from apps.teams.models import Membership
from tests.pages import form_data, make_cluster, make_namespace, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev(db):
    return make_cluster("dev")


# --- dashboard -------------------------------------------------------------------


def test_dashboard_requires_login(client):
    response = client.get(reverse("namespaces:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_shows_my_teams_namespaces_not_others(client_for, member, team, other_team, dev):
    make_namespace(team, dev, "payments-dev")
    make_namespace(other_team, dev, "search-dev")
    response = client_for(member).get(reverse("namespaces:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "payments-dev" in body
    assert "search-dev" not in body
    # The nav bar says who is logged in and as what.
    assert "alice" in body and "Developer" in body


def test_dashboard_for_outsider_hides_the_team(client_for, outsider, team, dev):
    make_namespace(team, dev, "payments-dev")
    body = client_for(outsider).get(reverse("namespaces:dashboard")).content.decode()
    assert "payments-dev" not in body


def test_dashboard_for_admin_shows_every_team(client_for, admin_user, team, other_team, dev):
    make_namespace(team, dev, "payments-dev")
    make_namespace(other_team, dev, "search-dev")
    body = client_for(admin_user).get(reverse("namespaces:dashboard")).content.decode()
    assert "payments-dev" in body and "search-dev" in body
    assert "Platform admin" in body


def test_dashboard_polls_only_while_something_is_moving(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev", phase=Namespace.Phase.PROVISIONING)
    c = client_for(member)
    moving = c.get(reverse("namespaces:dashboard"), HTTP_HX_REQUEST="true")
    assert moving.status_code == 200
    assert 'hx-trigger="every 2s"' in moving.content.decode()
    # An htmx request gets only the partial, not the whole page.
    assert "<html" not in moving.content.decode()
    ns.phase = Namespace.Phase.READY
    ns.save()
    settled = c.get(reverse("namespaces:dashboard"), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in settled
    assert 'data-phase="Ready"' in settled


def test_dashboard_polls_slowly_while_my_request_waits_for_a_decision(client_for, member, manager, team, dev):
    request = make_request(team, member, dev, "payments-new")
    c = client_for(member)
    assert 'hx-trigger="every 15s"' in c.get(reverse("namespaces:dashboard")).content.decode()
    request_reject(actor=manager, request=request, reason="no")
    assert "hx-trigger" not in c.get(reverse("namespaces:dashboard"), HTTP_HX_REQUEST="true").content.decode()


def test_dashboard_lists_my_requests(client_for, member, manager, team, dev):
    mine = make_request(team, member, dev, "payments-new")
    make_request(team, manager, dev, "payments-bobs")
    body = client_for(member).get(reverse("namespaces:dashboard")).content.decode()
    assert reverse("approvals:detail", args=[mine.pk]) in body
    assert "payments-bobs" not in body


def test_dashboard_hides_deleted_unless_asked(client_for, member, team, dev):
    make_namespace(team, dev, "payments-old", phase=Namespace.Phase.DELETED)
    c = client_for(member)
    assert "payments-old" not in c.get(reverse("namespaces:dashboard")).content.decode()
    assert "payments-old" in c.get(reverse("namespaces:dashboard"), {"phase": "Deleted"}).content.decode()


def test_dashboard_shows_quota_bars_when_usage_is_observed(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    ns.quota_used = {"requests.cpu": "500m", "pods": "19"}
    ns.save()
    body = client_for(member).get(reverse("namespaces:dashboard")).content.decode()
    assert 'aria-label="requests.cpu 50% used"' in body
    assert 'aria-label="pods 95% used"' in body


@pytest.mark.parametrize("rows", [1, 30])
def test_dashboard_query_count_does_not_grow(client_for, member, team, dev, django_assert_max_num_queries, rows):
    other = make_cluster("other")
    for i in range(rows):
        make_namespace(team, dev if i % 2 else other, f"ns-{i}", phase=Namespace.Phase.PROVISIONING)
        make_request(team, member, dev, f"req-{i}")
    c = client_for(member)
    with django_assert_max_num_queries(9):  # the page's ids first, then its rows
        response = c.get(reverse("namespaces:dashboard"))
    assert response.status_code == 200


# --- request form ----------------------------------------------------------------


def test_request_form_offers_only_teams_i_may_request_for(client_for, member, team, other_team, dev):
    response = client_for(member).get(reverse("namespaces:request"))
    assert response.status_code == 200
    team_choices = [slug for slug, _ in response.context["form"].fields["team"].choices]
    assert team_choices == ["payments"]


def test_viewer_gets_no_team_to_request_for(client_for, viewer, dev):
    response = client_for(viewer).get(reverse("namespaces:request"))
    assert list(response.context["form"].fields["team"].queryset) == []
    assert "not a member of any team" in response.content.decode()


def test_submit_creates_a_request_and_goes_to_its_page(client_for, member, team, dev):
    response = client_for(member).post(reverse("namespaces:request"), form_data(team, dev, "payments-dev", ttl_hours="48"))
    req = Request.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("approvals:detail", args=[req.pk])
    assert req.requester == member and req.name == "payments-dev" and req.state == Request.State.SUBMITTED
    assert req.payload["quota"]["limits.memory"] == "2Gi"
    assert req.payload["ttl_hours"] == 48
    assert AuditEvent.objects.filter(action="request.submit", actor=member, via="ui").exists()


def test_submit_with_empty_quota_fields_uses_the_tier(client_for, member, team, dev):
    data = form_data(team, dev, "payments-dev", tier="large")
    for key in list(data):
        if key.startswith("quota_"):
            data[key] = ""
    client_for(member).post(reverse("namespaces:request"), data)
    assert Request.objects.get().payload["quota"]["requests.cpu"] == "10"


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"name": "Bad_Name"}, "name", "lower case letters"),
    ({"name": "kube-foo"}, "name", "reserved"),
    ({"quota_limits_cpu": "500m", "quota_requests_cpu": "1"}, "quota_limits_cpu", "at least requests.cpu"),
    ({"quota_requests_memory": "lots"}, "quota_requests_memory", "not a Kubernetes quantity"),
    ({"ttl_hours": "0"}, "ttl_hours", "at least 1"),
    ({"ttl_hours": "soon"}, "ttl_hours", "whole number"),
])
def test_submit_with_bad_input_shows_errors_next_to_fields_and_creates_nothing(client_for, member, team, dev, overrides, field, message):
    data = {**form_data(team, dev, "payments-dev"), **overrides}
    response = client_for(member).post(reverse("namespaces:request"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert f'id="err-{field}"' in response.content.decode()
    assert not Request.objects.exists()


@pytest.mark.parametrize(("value", "message"), [
    ("2 Gi", '"2 Gi" is not a Kubernetes quantity: remove the spaces (write 2Gi, not 2 Gi)'),
    ("NaN", '"NaN" is not a Kubernetes quantity: write a number followed by an optional unit'),
])
def test_submit_with_a_quantity_the_cluster_would_refuse_shows_how_to_fix_it_and_creates_nothing(
        client_for, member, team, dev, value, message):
    audit_before = AuditEvent.objects.count()
    data = {**form_data(team, dev, "payments-dev"), "quota_requests_memory": value}
    response = client_for(member).post(reverse("namespaces:request"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["quota_requests_memory"], errors
    assert errors["quota_requests_memory"][0].startswith(message)
    assert 'id="err-quota_requests_memory"' in response.content.decode()
    assert not Request.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_live_validation_explains_a_quantity_with_a_space(client_for, member, team, dev):
    data = form_data(team, dev, "payments-dev", quota_requests_memory="2 Gi")
    body = client_for(member).post(reverse("namespaces:request_validate"), data, HTTP_HX_REQUEST="true").content.decode()
    assert "remove the spaces (write 2Gi, not 2 Gi)" in body
    assert not Request.objects.exists()


def test_outsider_submitting_a_bad_quantity_is_refused_without_a_request(client_for, outsider, team, dev):
    data = {**form_data(team, dev, "payments-dev"), "quota_requests_memory": "NaN"}
    response = client_for(outsider).post(reverse("namespaces:request"), data)
    assert response.status_code == 400
    assert "team" in response.context["form"].errors
    assert not Request.objects.exists()


def test_submit_for_a_team_i_am_not_in_is_refused(client_for, outsider, team, dev):
    response = client_for(outsider).post(reverse("namespaces:request"), form_data(team, dev, "payments-dev"))
    assert response.status_code == 400
    assert "team" in response.context["form"].errors
    assert not Request.objects.exists()


def test_submit_a_name_already_requested_is_refused(client_for, member, manager, team, dev):
    make_request(team, manager, dev, "payments-dev")
    response = client_for(member).post(reverse("namespaces:request"), form_data(team, dev, "payments-dev"))
    assert "already requested" in " ".join(response.context["form"].errors["name"])
    assert Request.objects.count() == 1


def test_live_validation_reports_a_bad_name_next_to_the_field(client_for, member, team, dev):
    response = client_for(member).post(reverse("namespaces:request_validate"), form_data(team, dev, "Bad_Name"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<ul id="err-name" class="field-errors" hx-swap-oob="true"><li>must consist of lower case letters' in body
    assert "1 problem to fix" in body
    assert not Request.objects.exists()


def test_live_validation_clears_errors_when_the_input_is_good(client_for, member, team, dev):
    body = client_for(member).post(reverse("namespaces:request_validate"), form_data(team, dev, "payments-dev"), HTTP_HX_REQUEST="true").content.decode()
    assert "Looks good" in body
    assert '<ul id="err-name" class="field-errors" hx-swap-oob="true"></ul>' in body


def test_live_validation_does_not_nag_about_fields_not_filled_yet(client_for, member, team, dev):
    body = client_for(member).post(reverse("namespaces:request_validate"), form_data(team, dev, ""), HTTP_HX_REQUEST="true").content.decode()
    assert "Looks good" in body


def test_live_validation_checks_quota_as_quantities(client_for, member, team, dev):
    data = form_data(team, dev, "payments-dev", quota_requests_memory="2Gi", quota_limits_memory="1500Mi")
    body = client_for(member).post(reverse("namespaces:request_validate"), data, HTTP_HX_REQUEST="true").content.decode()
    assert '<ul id="err-quota_limits_memory" class="field-errors" hx-swap-oob="true"><li>must be at least requests.memory' in body


def test_live_validation_needs_login_and_post(client, client_for, member):
    assert client.post(reverse("namespaces:request_validate")).status_code == 302
    assert client_for(member).get(reverse("namespaces:request_validate")).status_code == 405


def test_tier_change_returns_the_quota_fieldset_with_the_preset(client_for, member, dev):
    response = client_for(member).get(reverse("namespaces:request_quota"), {"tier": "large"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<fieldset id="quota-fields">')
    assert 'name="quota_requests_memory" value="100Gi"' in body


def test_request_form_posts_need_csrf(member, team, dev):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(member)
    assert c.post(reverse("namespaces:request"), form_data(team, dev, "payments-dev")).status_code == 403
    assert not Request.objects.exists()


# --- detail, YAML export, delete ----------------------------------------------------


def test_namespace_detail_for_member_shows_status_quota_and_yaml(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev", phase=Namespace.Phase.FAILED, last_error="connection refused", attempts=3)
    response = client_for(member).get(reverse("namespaces:detail", args=[ns.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "connection refused" in body and 'data-phase="Failed"' in body
    assert "kind: ResourceQuota" in body and "kind: NetworkPolicy" in body
    assert 'data-polling="false"' in body and 'hx-trigger="every 2s"' not in body  # Failed is settled: no polling
    # Members may not delete (managers and admins may), so no button.
    assert reverse("namespaces:delete", args=[ns.pk]) not in body


def test_namespace_detail_polls_its_status_while_provisioning(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev", phase=Namespace.Phase.PROVISIONING)
    partial = client_for(member).get(reverse("namespaces:detail", args=[ns.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="ns-status"')
    assert 'hx-trigger="every 2s"' in partial


@pytest.mark.parametrize("url_name", ["namespaces:detail", "namespaces:manifests", "namespaces:delete"])
def test_outsider_gets_404_on_namespace_pages(client_for, outsider, team, dev, url_name):
    ns = make_namespace(team, dev, "payments-dev")
    assert client_for(outsider).get(reverse(url_name, args=[ns.pk])).status_code == 404
    assert client_for(outsider).post(reverse("namespaces:delete", args=[ns.pk])).status_code == 404
    assert Namespace.objects.get().phase == Namespace.Phase.READY


def test_manifests_download_is_the_yaml_bundle(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    response = client_for(member).get(reverse("namespaces:manifests", args=[ns.pk]))
    assert response["Content-Type"].startswith("application/yaml")
    assert 'filename="dev-payments-dev.yaml"' in response["Content-Disposition"]
    import yaml

    kinds = [doc["kind"] for doc in yaml.safe_load_all(response.content) if doc]
    assert kinds[0] == "Namespace" and "ResourceQuota" in kinds and "LimitRange" in kinds


def test_manager_deletes_through_the_service(client_for, manager, team, dev, django_capture_on_commit_callbacks):
    ns = make_namespace(team, dev, "payments-dev")
    c = client_for(manager)
    detail = c.get(reverse("namespaces:detail", args=[ns.pk])).content.decode()
    assert reverse("namespaces:delete", args=[ns.pk]) in detail
    assert c.get(reverse("namespaces:delete", args=[ns.pk])).status_code == 200  # the confirmation page
    with django_capture_on_commit_callbacks(execute=False):
        response = c.post(reverse("namespaces:delete", args=[ns.pk]), follow=True)
    assert response.status_code == 200
    ns.refresh_from_db()
    assert ns.phase == Namespace.Phase.TERMINATING
    assert AuditEvent.objects.filter(action="namespace.delete", actor=manager).exists()
    assert "is being deleted" in response.content.decode()


def test_member_delete_is_refused_with_a_message(client_for, member, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    response = client_for(member).post(reverse("namespaces:delete", args=[ns.pk]), follow=True)
    assert "only managers of team payments" in response.content.decode()
    ns.refresh_from_db()
    assert ns.phase == Namespace.Phase.READY


def test_admin_sees_any_namespace_detail(client_for, admin_user, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    assert client_for(admin_user).get(reverse("namespaces:detail", args=[ns.pk])).status_code == 200


def test_viewer_sees_but_cannot_request(client_for, viewer, team, dev):
    ns = make_namespace(team, dev, "payments-dev")
    c = client_for(viewer)
    assert c.get(reverse("namespaces:detail", args=[ns.pk])).status_code == 200
    response = c.post(reverse("namespaces:request"), form_data(team, dev, "payments-two"))
    assert response.status_code == 400
    assert not Request.objects.exists()
    assert Membership.objects.get(user=viewer).role == "viewer"


def test_namespace_detail_shows_retry_and_drift(client_for, member, team, dev):
    from datetime import timedelta

    from django.utils import timezone

    ns = make_namespace(team, dev, "payments-dev", phase=Namespace.Phase.PROVISIONING, attempts=4,
                        last_error="cluster unreachable: connection refused",
                        next_attempt_at=timezone.now() + timedelta(seconds=30), drift_repaired_at=timezone.now())
    body = client_for(member).get(reverse("namespaces:detail", args=[ns.pk])).content.decode()
    assert "Next attempt" in body and "connection refused" in body and "Drift repaired" in body


def test_dashboard_filters_by_team_and_search(client_for, admin_user, team, other_team, dev):
    make_namespace(team, dev, "payments-dev", purpose="checkout")
    make_namespace(other_team, dev, "search-dev")
    c = client_for(admin_user)
    names = lambda **params: [ns.name for ns in c.get(reverse("namespaces:dashboard"), params).context["page"]]  # noqa: E731
    assert names(team="search") == ["search-dev"]
    assert names(q="checkout") == ["payments-dev"]
    assert 'id="f-team"' in c.get(reverse("namespaces:dashboard")).content.decode()
