"""Quota services: team budgets, quota change requests and auto-approval by rule."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from apps.approvals.models import Request
from apps.approvals.services import request_create, request_mark_applying, request_replay
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core import quantities
from apps.core.errors import ServiceError
from apps.namespaces.models import Namespace
from apps.namespaces.services import quota_from_tier, tier_limit_defaults
from apps.namespaces.tasks import reconcile_namespace
from apps.quotas.budgets import budget_problems
from apps.quotas.models import TeamBudget
from apps.quotas.rules import matching_rule
from apps.teams.selectors import can_request_for_team


def budget_set(*, actor, team, cluster, hard: dict, namespaces: int | None) -> TeamBudget:
    """Set (create or replace) a team's budget on a cluster (platform admins); audited before/after.

    ``hard`` empty and ``namespaces`` None removes every limit but keeps the
    row (the lock approvals take stays in place).
    """
    if actor is not None and not actor.is_platform_admin:
        raise PermissionDenied("only platform admins can set team budgets")
    with transaction.atomic():
        budget = TeamBudget.objects.select_for_update().filter(team=team, cluster=cluster).first()
        before = {"hard": budget.hard, "namespaces": budget.namespaces} if budget else None
        if budget is None:
            budget = TeamBudget(team=team, cluster=cluster)
        budget.hard, budget.namespaces = hard, namespaces
        budget.full_clean(exclude=["team", "cluster"])
        after = {"hard": budget.hard, "namespaces": budget.namespaces}
        if before == after:
            return budget
        try:
            with transaction.atomic():  # savepoint: a concurrent first set of the same budget
                budget.save()
        except IntegrityError:
            return budget_set(actor=actor, team=team, cluster=cluster, hard=hard, namespaces=namespaces)
        audit_record(actor=actor, action=Action.TEAM_BUDGET_UPDATE if before else Action.TEAM_BUDGET_CREATE, target=budget,
                     team=team, before=before, after=after)
    return budget


# --- Budgets and rules as request policies (registered in QuotasConfig.ready) ------------------------


def _requested_quota(request: Request) -> tuple[dict, Namespace | None] | None:
    """(quota, namespace it replaces) for the kinds that allocate quota; None for the others."""
    if request.kind == Request.Kind.NAMESPACE:
        return request.payload.get("quota") or {}, None
    if request.kind == Request.Kind.QUOTA:
        return request.payload.get("quota") or {}, request.namespace
    return None


def budget_check(request: Request, *, lock: bool) -> None:
    """A request policy: refuse a namespace or quota change that would take the team over its budget on the cluster."""
    asked = _requested_quota(request)
    if asked is None or request.cluster_id is None:
        return
    quota, replacing = asked
    problems = budget_problems(team=request.team, cluster=request.cluster, quota=quota, replacing=replacing, lock=lock)
    if problems:
        raise ValidationError({"quota": [f"over the team's budget: {problem}" for problem in problems]})


def auto_approve_rule(request: Request) -> str | None:
    """A request policy: the name of the first enabled rule that approves ``request``, or None."""
    if request.kind not in (Request.Kind.NAMESPACE, Request.Kind.QUOTA, Request.Kind.EXTENSION):
        return None
    rule = matching_rule(request)
    return rule.name if rule is not None else None


# --- Quota change requests -----------------------------------------------------------------------


def quota_request_validate(*, namespace: Namespace, quota: dict | None, tier: str | None, reason: str) -> dict:
    """Check a quota change; returns the request's payload or raises ValidationError (field names as the API's)."""
    quota, tier_row, errors = quota_from_tier(tier, quota)
    if namespace.phase in (Namespace.Phase.TERMINATING, Namespace.Phase.DELETED):
        errors.setdefault("namespace", []).append(f"namespace {namespace.name} is being deleted; its quota cannot change")
    elif Request.objects.filter(kind=Request.Kind.QUOTA, namespace=namespace, state=Request.State.SUBMITTED).exists():
        pending = Request.objects.filter(kind=Request.Kind.QUOTA, namespace=namespace, state=Request.State.SUBMITTED).first()
        errors.setdefault("namespace", []).append(f"namespace {namespace.name} already has an open quota change "
                                                  f"(request #{pending.pk}); wait for its decision or cancel it")
    if not quota and "tier" not in errors:
        errors.setdefault("quota", []).append('send the new quota values (e.g. {"requests.cpu": "4"}) or a tier')
    elif quota:
        problems = quantities.quota_errors(quota)
        if problems:
            errors["quota"] = [f"{resource}: {msg}" for resource, msgs in problems.items() for msg in msgs]
    if not isinstance(reason, str) or len(reason) > 500:
        errors["reason"] = ["must be at most 500 characters"]
    if errors:
        raise ValidationError(errors)
    quota = {resource: str(value).strip() for resource, value in quota.items()}
    limit_defaults = tier_limit_defaults(tier_row)
    if quota == namespace.quota and limit_defaults == (namespace.limit_defaults or {}):
        raise ValidationError({"quota": ["this is the namespace's quota already; change at least one value"]})
    return {"namespace_id": namespace.pk, "quota": quota, "tier": tier_row.name if tier_row else None,
            "limit_defaults": limit_defaults, "previous": dict(namespace.quota), "reason": reason}


@transaction.atomic
def quota_request_submit(*, actor, namespace: Namespace, quota: dict | None = None, tier: str | None = None,
                         reason: str = "", idempotency_key: str = "") -> Request:
    """Ask for a namespace's quota to change; a manager of its team decides (or an auto-approval rule).

    Checked like a namespace request: the values (Kubernetes quantities in
    bounds), the team's budget on the cluster with the namespace's current
    quota replaced by the new one, one open change per namespace.
    """

    def body(existing: Request) -> list[tuple[str, object, object]]:
        payload = existing.payload or {}
        asked = quota if quota is not None else (payload.get("quota") if tier else None)
        return [("namespace", namespace.pk, existing.namespace_id),
                ("quota", {k: str(v).strip() for k, v in (asked or {}).items()}, payload.get("quota")),
                ("tier", tier or None, payload.get("tier")),
                ("reason", reason or "", payload.get("reason", ""))]

    replay = request_replay(actor=actor, kind=Request.Kind.QUOTA, idempotency_key=idempotency_key, body=body)
    if replay is not None:
        return replay
    if not can_request_for_team(actor, namespace.team):
        raise PermissionDenied(f"only members of team {namespace.team.slug} can ask to change its namespaces' quota")
    # One open change per namespace: two concurrent submits queue on the namespace row.
    namespace = Namespace.objects.select_for_update().select_related("team", "cluster").get(pk=namespace.pk)
    payload = quota_request_validate(namespace=namespace, quota=quota, tier=tier, reason=reason or "")
    return request_create(actor=actor, kind=Request.Kind.QUOTA, team=namespace.team, cluster=namespace.cluster,
                          name=namespace.name, namespace=namespace, payload=payload, idempotency_key=idempotency_key)


def quota_request_approve(*, actor, request: Request) -> None:
    """What approving a quota change does: the namespace's quota changes now (same transaction, audited), the worker applies it.

    The budget was checked under its lock by the policy just before.
    """
    namespace = Namespace.objects.select_for_update().filter(pk=request.namespace_id).first()
    if namespace is None or namespace.phase in (Namespace.Phase.TERMINATING, Namespace.Phase.DELETED):
        raise ServiceError("the namespace is being deleted or gone; reject this request")
    quota = request.payload["quota"]
    problems = quantities.quota_errors(quota)
    if problems:
        raise ValidationError({"quota": [f"{resource}: {msg}; reject this request and ask for it again"
                                         for resource, msgs in problems.items() for msg in msgs]})
    before = {"quota": namespace.quota, "limit_defaults": namespace.limit_defaults}
    namespace.quota = quota
    namespace.limit_defaults = request.payload.get("limit_defaults") or {}
    namespace.save(update_fields=["quota", "limit_defaults", "updated_at"])
    audit_record(actor=actor, action=Action.NAMESPACE_QUOTA_CHANGE, target=namespace, team=namespace.team,
                 before=before, after={"quota": namespace.quota, "limit_defaults": namespace.limit_defaults},
                 message=f"quota change request #{request.pk}")
    request_mark_applying(request)
    transaction.on_commit(lambda: reconcile_namespace.delay(namespace.pk))
    return None
