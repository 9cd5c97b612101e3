"""The request workflow: submit, approve, reject, cancel — for every request kind.

Rules (who may ask, who may decide, four-eyes, decide once) live here; what
approval *does* depends on the kind and is delegated to ``_ON_APPROVE``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.approvals.models import Request
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.clusters.models import Cluster, PodSecurityLevel
from apps.core import quantities
from apps.core.errors import ServiceError
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_name_problem_on_cluster
from apps.namespaces.validators import validate_namespace_name, validate_namespace_name_on
from apps.teams.models import Team
from apps.teams.selectors import can_manage_team, can_request_for_team


def request_snapshot(request: Request) -> dict:
    """What the audit log keeps of a request."""
    return {
        "kind": request.kind,
        "state": request.state,
        "team": request.team.slug,
        "cluster": request.cluster.name if request.cluster_id else None,
        "name": request.name,
        "payload": request.payload,
        "reason": request.reason,
    }


def namespace_request_validate(*, team: Team, cluster: Cluster | None, name: str, purpose: str, quota: dict | None,
                               ttl_hours: int | None, pod_security_level: str | None) -> dict:
    """Check a namespace request's fields; returns the normalised payload or raises ValidationError.

    Shared by the form's live validation, the API and the submit service, so
    every entry point gives the same messages.
    """
    errors: dict[str, list[str]] = {}
    if cluster is None:
        errors.setdefault("cluster", []).append("choose a cluster")
    try:
        if cluster is None:
            validate_namespace_name(name or "")
        else:
            validate_namespace_name_on(name or "", cluster)
    except ValidationError as exc:
        errors.setdefault("name", []).extend(exc.messages)
    else:
        if cluster is not None:
            if Namespace.objects.filter(cluster=cluster, name=name).exclude(phase=Namespace.Phase.DELETED).exists():
                errors.setdefault("name", []).append(f'a namespace "{name}" already exists on cluster {cluster.name}')
            elif Request.objects.filter(kind=Request.Kind.NAMESPACE, state=Request.State.SUBMITTED, cluster=cluster, name=name).exists():
                errors.setdefault("name", []).append(f'"{name}" is already requested on cluster {cluster.name} and waits for approval')
    if len(purpose or "") > 200:
        errors.setdefault("purpose", []).append("must be at most 200 characters")
    quota = dict(settings.DEFAULT_NAMESPACE_QUOTA) if not quota else quota
    quota_problems = quantities.quota_errors(quota)
    if quota_problems:
        errors["quota"] = [f"{resource}: {msg}" for resource, msgs in quota_problems.items() for msg in msgs]
    if ttl_hours is not None:
        if not isinstance(ttl_hours, int) or isinstance(ttl_hours, bool) or ttl_hours < 1:
            errors.setdefault("ttl_hours", []).append("must be a whole number of hours, at least 1")
        elif ttl_hours > settings.NAMESPACE_MAX_TTL_HOURS:
            errors.setdefault("ttl_hours", []).append(f"must be at most {settings.NAMESPACE_MAX_TTL_HOURS} hours")
    level = pod_security_level or (cluster.default_pod_security if cluster else PodSecurityLevel.RESTRICTED)
    if level not in PodSecurityLevel.values:
        errors.setdefault("pod_security_level", []).append(f"must be one of {', '.join(PodSecurityLevel.values)}")
    if errors:
        raise ValidationError(errors)
    return {
        "purpose": purpose or "",
        "quota": {k: str(v).strip() for k, v in quota.items()},
        "ttl_hours": ttl_hours,
        "pod_security_level": level,
    }


@transaction.atomic
def namespace_request_submit(*, actor, team: Team, cluster: Cluster | None, name: str, purpose: str = "",
                             quota: dict | None = None, ttl_hours: int | None = None,
                             pod_security_level: str | None = None, idempotency_key: str = "") -> Request:
    """Ask for a namespace for ``team`` on ``cluster``; waits for a manager's decision.

    With an ``idempotency_key``, asking again with the same key returns the
    first request instead of creating a second one.
    """
    if idempotency_key:
        existing = Request.objects.filter(requester=actor, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if not can_request_for_team(actor, team):
        raise PermissionDenied(f"only members of team {team.slug} can request namespaces for it")
    payload = namespace_request_validate(team=team, cluster=cluster, name=name, purpose=purpose, quota=quota,
                                         ttl_hours=ttl_hours, pod_security_level=pod_security_level)
    # Only on submit, not in the form's live validation: it asks the cluster.
    problem = namespace_name_problem_on_cluster(cluster, name)
    if problem:
        raise ValidationError({"name": [problem]})
    # The id the namespace will carry as its ownership mark, chosen now so the
    # preview a manager approves is exactly what gets applied.
    payload["namespace_uid"] = str(uuid.uuid4())
    try:
        # Savepoint: a concurrent identical submit trips the constraints and
        # we answer like the validation would, not with a 500.
        with transaction.atomic():
            request = Request.objects.create(kind=Request.Kind.NAMESPACE, team=team, requester=actor, cluster=cluster,
                                             name=name, payload=payload, idempotency_key=idempotency_key)
    except IntegrityError:
        if idempotency_key:
            existing = Request.objects.filter(requester=actor, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise ValidationError({"name": [f'"{name}" is already requested on cluster {cluster.name}']}) from None
    audit_record(actor=actor, action=Action.REQUEST_SUBMIT, target=request, after=request_snapshot(request), team=team)
    return request


def _lock_for_decision(*, actor, request: Request) -> Request:
    """Re-read the request under a row lock and check the decision rules."""
    locked = Request.objects.select_for_update(of=("self",)).select_related("team", "cluster").get(pk=request.pk)
    if not can_manage_team(actor, locked.team):
        raise PermissionDenied(f"only managers of team {locked.team.slug} or a platform admin can decide this request")
    if locked.requester_id == actor.pk:
        raise PermissionDenied("you cannot decide your own request (four-eyes rule); ask another manager")
    if locked.state != Request.State.SUBMITTED:
        raise ServiceError(f"this request is already {locked.get_state_display().lower()}; it cannot be decided again")
    return locked


def _approve_namespace(*, actor, request: Request) -> None:
    # The cluster may have changed since the request was submitted (a
    # namespace of that name created by hand, a newly reserved name): check
    # again, so approving never hands a team something the portal does not own.
    try:
        validate_namespace_name_on(request.name, request.cluster)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    problem = namespace_name_problem_on_cluster(request.cluster, request.name)
    if problem:
        raise ValidationError({"name": [f"{problem}; reject this request (adopting an existing namespace is a platform admin's separate action)"]})
    payload = request.payload
    # The quota was checked on submit, but by the rules of that day: a request
    # stored while the portal's parser was more lenient than the API server's
    # (it once took "2 Gi" and "NaN") must not be approved into a failing apply.
    quota_problems = quantities.quota_errors(payload.get("quota") or {})
    if quota_problems:
        raise ValidationError({"quota": [f"{resource}: {msg}; reject this request and ask for it again"
                                         for resource, msgs in quota_problems.items() for msg in msgs]})
    expires_at = None
    if payload.get("ttl_hours"):
        expires_at = timezone.now() + timedelta(hours=payload["ttl_hours"])
    try:
        with transaction.atomic():
            namespace = Namespace.objects.create(
                uid=payload.get("namespace_uid") or uuid.uuid4(), cluster=request.cluster, name=request.name, team=request.team, purpose=payload.get("purpose", ""),
                owner=request.requester, expires_at=expires_at, quota=payload["quota"],
                pod_security_level=payload["pod_security_level"],
            )
    except IntegrityError:
        raise ServiceError(f'a namespace "{request.name}" already exists on cluster {request.cluster.name}') from None
    request.namespace = namespace
    audit_record(actor=actor, action=Action.NAMESPACE_CREATE, target=namespace, team=request.team,
                 after={"cluster": request.cluster.name, "name": namespace.name, "quota": namespace.quota,
                        "pod_security_level": namespace.pod_security_level,
                        "expires_at": expires_at.isoformat() if expires_at else None})
    from apps.namespaces.tasks import reconcile_namespace  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_namespace.delay(namespace.pk))


# What approving does, per kind. Other apps register theirs (e.g. onboarding's
# membership requests) with ``register_approval_handler``.
_ON_APPROVE = {Request.Kind.NAMESPACE: _approve_namespace}


def register_approval_handler(kind: str, handler) -> None:
    _ON_APPROVE[kind] = handler


def _decide(*, actor, request: Request, state: str, reason: str, action: Action) -> Request:
    request = _lock_for_decision(actor=actor, request=request)
    before = request_snapshot(request)
    request.state = state
    request.decider = actor
    request.reason = reason
    request.decided_at = timezone.now()
    if state == Request.State.APPROVED:
        _ON_APPROVE[request.kind](actor=actor, request=request)
    request.save()
    audit_record(actor=actor, action=action, target=request, before=before, after=request_snapshot(request), team=request.team)
    return request


@transaction.atomic
def request_approve(*, actor, request: Request, reason: str = "") -> Request:
    """Approve a submitted request (team manager or platform admin, never the requester)."""
    return _decide(actor=actor, request=request, state=Request.State.APPROVED, reason=reason, action=Action.REQUEST_APPROVE)


@transaction.atomic
def request_reject(*, actor, request: Request, reason: str = "") -> Request:
    """Reject a submitted request; the reason is shown to the requester."""
    return _decide(actor=actor, request=request, state=Request.State.REJECTED, reason=reason, action=Action.REQUEST_REJECT)


@transaction.atomic
def request_cancel(*, actor, request: Request) -> Request:
    """The requester withdraws a request that nobody has decided yet."""
    request = Request.objects.select_for_update(of=("self",)).select_related("team", "cluster").get(pk=request.pk)
    if request.requester_id != actor.pk:
        raise PermissionDenied("only the requester can cancel a request")
    if request.state != Request.State.SUBMITTED:
        raise ServiceError(f"this request is already {request.get_state_display().lower()}; it cannot be cancelled")
    before = request_snapshot(request)
    request.state = Request.State.CANCELLED
    request.decided_at = timezone.now()
    request.save()
    audit_record(actor=actor, action=Action.REQUEST_CANCEL, target=request, before=before, after=request_snapshot(request), team=request.team)
    return request
