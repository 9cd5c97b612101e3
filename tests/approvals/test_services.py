"""The request workflow's rules, on PostgreSQL."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.approvals.models import Request
from apps.approvals.services import request_approve, request_cancel, request_reject, request_replay
from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster
from apps.core.errors import IdempotencyKeyReused, ServiceError
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit
from apps.onboarding.services import membership_request_submit

pytestmark = pytest.mark.django_db

QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}


@pytest.fixture
def demo_cluster(db) -> Cluster:
    cluster = Cluster(name="demo", api_server_url="https://127.0.0.1:6443", ca_bundle="-----BEGIN CERTIFICATE-----\n", auth_kind=Cluster.AuthKind.TOKEN)
    cluster.set_credentials({"token": "secret"})
    cluster.save()
    return cluster


def submit(user, team, cluster, name="payments-dev", **kwargs):
    kwargs.setdefault("quota", QUOTA)
    return namespace_request_submit(actor=user, team=team, cluster=cluster, name=name, purpose="dev", **kwargs)


def test_member_submits_and_it_is_audited(member, team, demo_cluster):
    request = submit(member, team, demo_cluster)
    assert request.state == Request.State.SUBMITTED
    assert request.payload["quota"] == QUOTA
    assert request.payload["pod_security_level"] == "restricted"
    event = AuditEvent.objects.get(action="request.submit")
    assert event.actor == member and event.actor_name == "alice"
    assert event.target_id == str(request.pk) and event.after["name"] == "payments-dev"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Payments", "lower case"),
        ("-dev", "start and end"),
        ("a" * 64, "no more than 63"),
        ("default", "reserved"),
        ("kube-anything", "reserved"),
        ("", "lower case"),
    ],
)
def test_bad_names_are_refused_with_a_message(member, team, demo_cluster, name, fragment):
    with pytest.raises(ValidationError) as exc:
        submit(member, team, demo_cluster, name=name)
    assert any(fragment in m for m in exc.value.message_dict["name"])
    assert not Request.objects.exists()


def test_quota_is_parsed_as_quantities(member, team, demo_cluster):
    with pytest.raises(ValidationError) as exc:
        submit(member, team, demo_cluster, quota={"requests.cpu": "1500m", "limits.cpu": "1", "limits.memory": "lots"})
    messages = exc.value.message_dict["quota"]
    assert any(m.startswith("limits.cpu: must be at least requests.cpu") for m in messages)
    assert any(m.startswith("limits.memory:") and "not a Kubernetes quantity" in m for m in messages)
    # 500m < 1 as quantities even though "500m" > "1" as strings
    assert submit(member, team, demo_cluster, quota={"requests.cpu": "500m", "limits.cpu": "1"}).pk


def test_negative_and_huge_quotas_are_refused(member, team, demo_cluster):
    with pytest.raises(ValidationError) as exc:
        submit(member, team, demo_cluster, quota={"requests.cpu": "-1", "limits.memory": "100000Gi", "pods": "2.5"})
    text = " ".join(exc.value.message_dict["quota"])
    assert "greater than zero" in text and "at most" in text and "whole number" in text


def test_name_is_unique_per_cluster_including_pending_requests(member, team, demo_cluster):
    submit(member, team, demo_cluster)
    with pytest.raises(ValidationError) as exc:
        submit(member, team, demo_cluster)
    assert "waits for approval" in exc.value.message_dict["name"][0]


def test_ttl_is_bounded(member, team, demo_cluster, settings):
    with pytest.raises(ValidationError) as exc:
        submit(member, team, demo_cluster, ttl_hours=settings.NAMESPACE_MAX_TTL_HOURS + 1)
    assert "at most" in exc.value.message_dict["ttl_hours"][0]


def test_only_members_may_request(outsider, viewer, team, demo_cluster):
    for user in (outsider, viewer):
        with pytest.raises(PermissionDenied):
            submit(user, team, demo_cluster)
    assert not Request.objects.exists()


def test_idempotency_key_returns_the_same_request(member, team, demo_cluster):
    first = submit(member, team, demo_cluster, idempotency_key="ci-123")
    again = submit(member, team, demo_cluster, idempotency_key="ci-123")
    assert again.pk == first.pk
    assert Request.objects.count() == 1
    assert again.replayed and not first.replayed


def test_idempotency_key_reused_for_other_fields_names_the_first_difference(member, team, demo_cluster):
    submit(member, team, demo_cluster, idempotency_key="ci-124")
    with pytest.raises(IdempotencyKeyReused) as exc:
        submit(member, team, demo_cluster, idempotency_key="ci-124", ttl_hours=4)
    assert exc.value.field == "ttl_hours"
    with pytest.raises(IdempotencyKeyReused) as exc:
        membership_request_submit(actor=member, team=team, idempotency_key="ci-124")
    assert exc.value.field == "kind"
    assert Request.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_replay_lookup_refuses_to_run_outside_the_submit_transaction(member):
    with pytest.raises(RuntimeError, match="inside the submit's transaction"):
        request_replay(actor=member, kind=Request.Kind.NAMESPACE, idempotency_key="k", body=lambda existing: [])


def test_manager_approves_and_the_namespace_row_appears(member, manager, team, demo_cluster):
    request = submit(member, team, demo_cluster, ttl_hours=24)
    approved = request_approve(actor=manager, request=request, reason="fine")
    assert approved.state == Request.State.APPROVED
    assert approved.decider == manager and approved.decided_at is not None
    namespace = Namespace.objects.get(cluster=demo_cluster, name="payments-dev")
    assert namespace.phase == Namespace.Phase.PENDING
    assert namespace.owner == member and namespace.quota == QUOTA
    assert namespace.expires_at is not None
    assert approved.namespace == namespace
    assert list(AuditEvent.objects.filter(target_type="approvals.request", target_id=str(request.pk)).values_list("action", flat=True)) == ["request.approve", "request.submit"]


@pytest.mark.parametrize("stored", ["2 Gi", "NaN"])
def test_approval_refuses_a_quota_stored_before_the_parser_was_strict(member, manager, team, demo_cluster, stored):
    request = submit(member, team, demo_cluster)
    # What the portal's earlier, client-library parser let through.
    Request.objects.filter(pk=request.pk).update(payload={**request.payload, "quota": {**QUOTA, "requests.memory": stored}})
    request.refresh_from_db()
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        request_approve(actor=manager, request=request)
    [message] = exc.value.message_dict["quota"]
    assert message.startswith(f'requests.memory: "{stored}" is not a Kubernetes quantity')
    assert message.endswith("reject this request and ask for it again")
    request.refresh_from_db()
    assert request.state == Request.State.SUBMITTED
    assert not Namespace.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_requester_cannot_decide_their_own_request(manager, team, demo_cluster):
    request = submit(manager, team, demo_cluster)
    with pytest.raises(PermissionDenied, match="four-eyes"):
        request_approve(actor=manager, request=request)
    request.refresh_from_db()
    assert request.state == Request.State.SUBMITTED


def test_members_and_outsiders_cannot_decide(member, outsider, viewer, manager, team, demo_cluster):
    request = submit(manager, team, demo_cluster)
    for user in (member, outsider, viewer):
        with pytest.raises(PermissionDenied):
            request_reject(actor=user, request=request)


def test_platform_admin_can_decide_any_team(member, admin_user, team, demo_cluster):
    request = submit(member, team, demo_cluster)
    assert request_reject(actor=admin_user, request=request, reason="use the shared one").state == Request.State.REJECTED


def test_a_decided_request_cannot_be_decided_again(member, manager, admin_user, team, demo_cluster):
    request = submit(member, team, demo_cluster)
    request_reject(actor=manager, request=request, reason="no")
    with pytest.raises(ServiceError, match="already rejected"):
        request_approve(actor=admin_user, request=request)
    assert not Namespace.objects.exists()


def test_requester_cancels_only_their_own_open_request(member, manager, team, demo_cluster):
    request = submit(member, team, demo_cluster)
    with pytest.raises(PermissionDenied):
        request_cancel(actor=manager, request=request)
    assert request_cancel(actor=member, request=request).state == Request.State.CANCELLED
    with pytest.raises(ServiceError):
        request_cancel(actor=member, request=request)
    # the name is free again once the request is no longer pending
    assert submit(member, team, demo_cluster).pk != request.pk
