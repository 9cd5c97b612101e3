"""Namespace services: ask for a namespace, reconcile it onto its cluster, delete it, resync.

Asking goes through the request workflow (``apps.approvals``, which owns
requests and their state): ``namespace_request_submit`` and
``namespace_request_validate`` are the rules of asking for a namespace,
``namespace_request_approve`` is what approving one does (the Pending row).

Desired state lives in the Namespace row (+ the team's memberships); these
services make the cluster match it, level-triggered:

* ``namespace_reconcile`` claims the row with a conditional UPDATE (one
  worker at a time), renders the bundle, and applies it with server-side
  apply only when its hash differs from the last applied one. Phase,
  attempts, last error and quota usage are recorded on the way, each
  transition audited (via=worker in tasks), and the originating request is
  reported applying/done/failed to the workflow.
* ``namespace_delete`` marks the row Terminating; ``namespace_finalize_delete``
  deletes it on the cluster and marks it Deleted (the row stays for history).
* ``namespaces_to_resync`` decides what the periodic resync re-drives.
* ``namespaces_reap_expired`` (the hourly TTL reaper) starts deleting
  expired, unprotected namespaces through the same transition as
  ``namespace_delete``; ``namespace_set_protected`` exempts one.

No database transaction is held open across a cluster call: the claim is
what keeps two workers apart, so a slow cluster never blocks the database.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.approvals.models import Request
from apps.approvals.services import (
    request_create,
    request_mark_applying,
    request_mark_done,
    request_mark_failed,
    request_replay,
)
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.clusters import kube
from apps.clusters.models import Cluster, PodSecurityLevel
from apps.core import quantities
from apps.core.errors import ClusterError, ServiceError
from apps.namespaces import manifests, signals
from apps.namespaces.models import Namespace, QuotaTier
from apps.namespaces.selectors import bundle_for_namespace, bundle_for_request, namespace_is_reapable, namespaces_expired, team_memberships_for_bundle
from apps.namespaces.validators import reserved_pattern, validate_namespace_name, validate_namespace_name_on
from apps.teams.models import Team
from apps.teams.selectors import can_manage_team, can_request_for_team

log = logging.getLogger(__name__)

Phase = Namespace.Phase
# A claim outlives the longest reconcile we expect (every object applied at
# the request timeout) so a live worker never loses it; a dead worker's
# claim expires and the resync (or the redelivered task) takes over.
CLAIM_REQUESTS = 20
# First retry delay; doubled per attempt up to RECONCILE_MAX_BACKOFF_SECONDS.
BASE_BACKOFF_SECONDS = 1


@dataclass
class ReconcileResult:
    """What a reconcile did. ``outcome``: applied, unchanged, repaired, busy, gone, retry, failed."""

    outcome: str
    message: str = ""
    retry_in: float | None = None
    pruned: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    # retry/failed: why, in few words for a metric label (http_503, unreachable, ...).
    reason: str = ""
    # applied after earlier attempts failed: the cluster answers again (others may be waiting on it).
    recovered: bool = False


def claim_seconds() -> int:
    return max(30, settings.KUBE_REQUEST_TIMEOUT_SECONDS * CLAIM_REQUESTS)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff (1, 2, 4, ... s) capped at ``RECONCILE_MAX_BACKOFF_SECONDS``."""
    return float(min(settings.RECONCILE_MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


def namespace_snapshot(namespace: Namespace) -> dict:
    """What the audit log keeps of a namespace's reconcile state."""
    return {"phase": namespace.phase, "attempts": namespace.attempts, "last_error": namespace.last_error,
            "observed_hash": namespace.observed_hash}


# --- Ownership ---------------------------------------------------------------------


def namespace_ownership(namespace: Namespace) -> kube.Ownership:
    """How the gateway recognises ``namespace``'s object on the cluster as the portal's own."""
    labels, annotations = manifests.ownership_mark(namespace)
    return kube.Ownership(labels=labels, annotations=annotations, uid=namespace.cluster_uid, adopted=namespace.adopted)


class _Reserved(ClusterError):
    pass


def _refuse_reserved(namespace: Namespace) -> None:
    """Reserved names are never written or deleted, even by a row that predates the reservation."""
    pattern = reserved_pattern(namespace.name, namespace.cluster)
    if pattern is not None:
        raise _Reserved(f"{namespace.cluster.name}: namespace {namespace.name} is reserved ({pattern}); "
                        "the portal never writes to it", retryable=False)


def namespace_name_problem_on_cluster(cluster, name: str) -> str | None:
    """Why ``name`` cannot be given to a team on ``cluster`` as things stand there, or None.

    One GET: a namespace of that name must not exist (the portal never adopts
    one through a team's request). An unreachable cluster is not a reason to
    refuse: the reconcile checks again right before it writes anything.
    """
    try:
        live = kube.get_object(cluster, "v1", "Namespace", name)
    except ClusterError as exc:
        log.warning("cannot check whether namespace %s exists on %s: %s", name, cluster.name, exc)
        return None
    if live is None:
        return None
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    ours = annotations.get(manifests.key("namespace-id"))
    if ours and Namespace.objects.filter(cluster=cluster, uid=_uuid_or_none(ours), phase=Phase.DELETED).exists():
        return f'"{name}" is still being deleted on cluster {cluster.name}; try again when it is gone'
    return f'namespace "{name}" exists on the cluster and is not managed by the portal'


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# --- Adoption: the one way an existing namespace becomes the portal's -----------------------------


@dataclass
class AdoptionPreview:
    """What adopting would do: the live namespace as it is now and the bundle the portal would apply."""

    cluster_uid: str
    live_labels: dict
    created_at: str
    objects: list[dict]


def _adoption_target(*, actor, cluster, name: str, team) -> tuple[dict, Namespace]:
    """Checks shared by preview and adopt: (live namespace, unsaved row that would manage it)."""
    if actor is None or not actor.is_platform_admin:
        raise PermissionDenied("only platform admins can adopt an existing namespace")
    try:
        validate_namespace_name_on(name, cluster)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    live_row = Namespace.objects.filter(cluster=cluster, name=name).exclude(phase=Phase.DELETED).first()
    if live_row is not None and live_row.phase != Phase.FAILED:
        raise ValidationError({"name": [f'"{name}" is already managed by the portal on cluster {cluster.name}']})
    if live_row is not None and live_row.team_id != team.pk:
        raise ValidationError({"team": [f'"{name}" already has a (failed) record for team {live_row.team.slug}; adopt it for that team or delete the record first']})
    try:
        live = kube.get_object(cluster, "v1", "Namespace", name)
    except ClusterError as exc:
        raise ValidationError({"cluster": [f"cannot read the namespace from the cluster: {exc}"]}) from None
    if live is None:
        raise ValidationError({"name": [f'there is no namespace "{name}" on cluster {cluster.name} to adopt; request a new one instead']})
    row = live_row or Namespace(cluster=cluster, name=name, team=team, quota=dict(settings.DEFAULT_NAMESPACE_QUOTA),
                                pod_security_level=cluster.default_pod_security)
    return live, row


def namespace_adoption_preview(*, actor, cluster, name: str, team) -> AdoptionPreview:
    """Read-only first step of adoption: what is on the cluster now and what would be applied to it."""
    live, row = _adoption_target(actor=actor, cluster=cluster, name=name, team=team)
    meta = live.get("metadata") or {}
    return AdoptionPreview(cluster_uid=meta.get("uid", ""), live_labels=dict(meta.get("labels") or {}),
                           created_at=meta.get("creationTimestamp", ""),
                           objects=manifests.render_bundle(row, team_memberships_for_bundle(team)))


def namespace_adopt(*, actor, cluster, name: str, team, confirm_uid: str, purpose: str = "") -> Namespace:
    """A platform admin hands an existing namespace to ``team``; the portal manages it from now on.

    Never part of a team's request: it is its own, audited action, confirmed
    with the ``metadata.uid`` the admin saw in the preview, so a namespace
    deleted and re-created since is not taken over by mistake. The reconcile
    then applies the bundle (quota, bindings, policies, the ownership mark)
    to exactly that object. A failed record of the same name (a namespace
    that existed when the portal tried to create it) is reused.
    """
    live, row = _adoption_target(actor=actor, cluster=cluster, name=name, team=team)
    meta = live.get("metadata") or {}
    if not confirm_uid or confirm_uid != meta.get("uid"):
        raise ValidationError({"confirm_uid": [
            f'confirm with the current metadata.uid of namespace "{name}": {meta.get("uid")} '
            f"(kubectl get namespace {name} -o jsonpath='{{.metadata.uid}}')"]})
    if len(purpose) > 200:
        raise ValidationError({"purpose": ["must be at most 200 characters"]})
    with transaction.atomic():
        before = None
        if row.pk is not None:
            row = Namespace.objects.select_for_update().get(pk=row.pk)
            if row.phase != Phase.FAILED:
                raise ValidationError({"name": [f'"{name}" is already managed by the portal on cluster {cluster.name}']})
            before = namespace_snapshot(row)
        row.adopted, row.cluster_uid = True, meta["uid"]
        row.phase, row.attempts, row.last_error, row.observed_hash, row.next_attempt_at = Phase.PENDING, 0, "", "", None
        if purpose:
            row.purpose = purpose
        row.save()
        audit_record(actor=actor, action=Action.NAMESPACE_ADOPT, target=row, team=team, before=before,
                     after={**namespace_snapshot(row), "cluster": cluster.name, "cluster_uid": row.cluster_uid,
                            "labels_before": dict(meta.get("labels") or {})},
                     message=f"adopted existing namespace {name} (uid {row.cluster_uid}) on cluster {cluster.name} for team {team.slug}")
    from apps.namespaces.tasks import reconcile_namespace  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_namespace.delay(row.pk))
    return row


# --- Namespace requests: the rules of asking, and what approving one does --------------------------


def quota_from_tier(tier_name: str | None, quota: dict | None) -> tuple[dict | None, QuotaTier | None, dict[str, list[str]]]:
    """(quota, tier, errors) for a request that sends a ``tier`` name or explicit ``quota`` values (not both)."""
    if not tier_name:
        return quota, None, {}
    if quota:
        return quota, None, {"tier": ["send either a tier or quota values, not both"]}
    tier = QuotaTier.objects.filter(name=tier_name).first()
    if tier is None:
        names = ", ".join(QuotaTier.objects.values_list("name", flat=True))
        return None, None, {"tier": [f'unknown tier "{str(tier_name)[:32]}"; one of: {names}']}
    return dict(tier.hard), tier, {}


def tier_limit_defaults(tier: QuotaTier | None) -> dict:
    """What a namespace keeps of its tier's LimitRange defaults (empty: derived from the quota)."""
    if tier is None:
        return {}
    return {"default": dict(tier.limit_default), "defaultRequest": dict(tier.limit_default_request)}


def namespace_request_validate(*, team: Team, cluster: Cluster | None, name: str, purpose: str, quota: dict | None,
                               ttl_hours: int | None, pod_security_level: str | None, tier: str | None = None) -> dict:
    """Check a namespace request's fields; returns the normalised payload or raises ValidationError.

    Shared by the form's live validation, the API and the submit service, so
    every entry point gives the same messages. ``tier`` (a QuotaTier's name)
    is the alternative to explicit ``quota`` values; it brings the tier's
    container defaults.
    """
    quota, tier_row, errors = quota_from_tier(tier, quota)
    if team is not None and team.archived:
        errors["team"] = [f"team {team.slug} is archived and takes no new requests; ask a platform admin to restore it"]
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
    quota_problems = quantities.quota_errors(quota) if "tier" not in errors else {}
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
        "tier": tier_row.name if tier_row else None,
        "limit_defaults": tier_limit_defaults(tier_row),
        "ttl_hours": ttl_hours,
        "pod_security_level": level,
    }


@transaction.atomic
def namespace_request_submit(*, actor, team: Team, cluster: Cluster | None, name: str, purpose: str = "",
                             quota: dict | None = None, ttl_hours: int | None = None,
                             pod_security_level: str | None = None, idempotency_key: str = "",
                             tier: str | None = None) -> Request:
    """Ask for a namespace for ``team`` on ``cluster``; waits for a manager's decision.

    With an ``idempotency_key``, asking again with the same key and fields
    returns the first request (``replayed``) instead of creating a second
    one; the same key with other fields is ``IdempotencyKeyReused``.
    """

    def body(existing: Request) -> list[tuple[str, object, object]]:
        payload = existing.payload or {}
        asked = quota or (existing.payload.get("quota") if tier else None) or settings.DEFAULT_NAMESPACE_QUOTA
        return [
            ("tier", tier or None, payload.get("tier")),
            ("cluster", cluster.pk if cluster else None, existing.cluster_id),
            ("team", team.pk, existing.team_id),
            ("name", name, existing.name),
            ("purpose", purpose or "", payload.get("purpose", "")),
            ("quota", {k: str(v).strip() for k, v in asked.items()}, payload.get("quota")),
            ("ttl_hours", ttl_hours, payload.get("ttl_hours")),
            ("pod_security_level", pod_security_level or (cluster.default_pod_security if cluster else None),
             payload.get("pod_security_level")),
        ]

    replay = request_replay(actor=actor, kind=Request.Kind.NAMESPACE, idempotency_key=idempotency_key, body=body)
    if replay is not None:
        return replay
    if not can_request_for_team(actor, team):
        raise PermissionDenied(f"only members of team {team.slug} can request namespaces for it")
    payload = namespace_request_validate(team=team, cluster=cluster, name=name, purpose=purpose, quota=quota,
                                         ttl_hours=ttl_hours, pod_security_level=pod_security_level, tier=tier)
    # Only on submit, not in the form's live validation: it asks the cluster.
    problem = namespace_name_problem_on_cluster(cluster, name)
    if problem:
        raise ValidationError({"name": [problem]})
    # The id the namespace will carry as its ownership mark, chosen now so the
    # preview a manager approves is exactly what gets applied.
    payload["namespace_uid"] = str(uuid.uuid4())
    try:
        return request_create(actor=actor, kind=Request.Kind.NAMESPACE, team=team, cluster=cluster, name=name,
                              payload=payload, idempotency_key=idempotency_key)
    except IntegrityError:
        # A concurrent identical submit won the race for the name: answer like the validation would, not with a 500.
        raise ValidationError({"name": [f'"{name}" is already requested on cluster {cluster.name}']}) from None


def namespace_request_preflight(request: Request) -> list[kube.PreflightItem]:
    """The cluster's dry-run verdict on the bundle approving ``request`` applies (the kind's preflight hook).

    A name that exists on the cluster and is not the portal's is denied
    without asking the cluster anything about it: the portal does not even
    dry-run onto what it does not own (approval refuses it anyway).
    """
    problem = namespace_name_problem_on_cluster(request.cluster, request.name)
    if problem:
        return [kube.PreflightItem("Namespace", request.name, "denied", problem, overridable=False)]
    return kube.preflight(request.cluster, bundle_for_request(request))


def namespace_request_approve(*, actor, request: Request) -> Namespace:
    """What approving a namespace request does: the namespace row (Pending), applied by the worker after commit.

    The request kind's ``approve`` hook (registered in ``NamespacesConfig.ready``),
    run by ``request_approve`` inside its transaction; the request links to the
    namespace returned.
    """
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
                limit_defaults=payload.get("limit_defaults") or {},
                pod_security_level=payload["pod_security_level"],
            )
    except IntegrityError:
        raise ServiceError(f'a namespace "{request.name}" already exists on cluster {request.cluster.name}') from None
    audit_record(actor=actor, action=Action.NAMESPACE_CREATE, target=namespace, team=request.team,
                 after={"cluster": request.cluster.name, "name": namespace.name, "quota": namespace.quota,
                        "pod_security_level": namespace.pod_security_level,
                        "expires_at": expires_at.isoformat() if expires_at else None})
    from apps.namespaces.tasks import reconcile_namespace  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_namespace.delay(namespace.pk))
    return namespace


# --- Claiming ----------------------------------------------------------------------


def namespace_claim(namespace_id: int, token: str, *, phases=None) -> bool:
    """Take the row for ``token`` with a conditional UPDATE; True when we hold it.

    Free when never claimed, when the previous claim expired, or when it is
    already ours (a redelivered task keeps its id). Concurrent claimers race
    on the same UPDATE; PostgreSQL's row lock makes exactly one of them match.
    """
    now = timezone.now()
    qs = Namespace.objects.filter(pk=namespace_id).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=token)
    )
    if phases is not None:
        qs = qs.filter(phase__in=phases)
    return qs.update(claimed_until=now + timedelta(seconds=claim_seconds()), claimed_by=token) == 1


def namespace_hold_for_retry(namespace_id: int, token: str, retry_in: float) -> bool:
    """Keep the row claimed by ``token`` until its scheduled retry (same task id) runs: one retry chain per row.

    The resync skips claimed rows, so it never starts a second chain for a row
    already waiting on a retry; the retry itself takes the claim over (same
    id). Should the retry be lost (its worker killed), the claim expires a
    claim period after the retry was due and the resync takes over then.
    """
    until = timezone.now() + timedelta(seconds=retry_in + claim_seconds())
    return Namespace.objects.filter(pk=namespace_id).filter(
        Q(claimed_until__isnull=True) | Q(claimed_by=token)).update(claimed_until=until, claimed_by=token) == 1


def namespace_cluster_id(namespace_id: int) -> int | None:
    return Namespace.objects.filter(pk=namespace_id).values_list("cluster_id", flat=True).first()


def namespace_release(namespace_id: int, token: str) -> None:
    """Let go of the claim (only if still ours)."""
    Namespace.objects.filter(pk=namespace_id, claimed_by=token).update(claimed_until=None, claimed_by="")


# --- The request that created the namespace ------------------------------------------------------


def _open_requests(namespace: Namespace) -> list[Request]:
    """The approved/applying requests that the namespace's next apply carries out: the one that created it
    and any quota change or lifetime extension approved since.

    Their state is approvals' to write: the transitions below report to
    ``request_mark_*``, which re-check the state under a lock.
    """
    return list(Request.objects.filter(namespace=namespace, kind__in=[Request.Kind.NAMESPACE, Request.Kind.QUOTA, Request.Kind.EXTENSION],
                                       state__in=[Request.State.APPROVED, Request.State.APPLYING])
                .order_by("created_at"))


# --- Phase transitions (each in its own short transaction) ------------------------------------

_GONE = (Phase.TERMINATING, Phase.DELETED)


class _DeletedMeanwhile(Exception):
    """The namespace started terminating while a reconcile held its claim.

    ``namespace_delete`` does not wait for the claim (a manager's delete must
    not block on a slow cluster), so every transition re-checks the locked
    row: deletion wins, the reconcile lets go and stops.
    """


def _start_attempt(namespace: Namespace, token: str) -> None:
    """Provisioning, one more attempt, the request applying: visible before we call the cluster."""
    with transaction.atomic():
        row = Namespace.objects.select_for_update().get(pk=namespace.pk)
        if row.phase in _GONE:
            raise _DeletedMeanwhile
        before = namespace_snapshot(row)
        # attempts counts tries since the last success.
        row.attempts = 1 if row.phase in (Phase.READY, Phase.PENDING) else row.attempts + 1
        changed = row.phase != Phase.PROVISIONING
        row.phase = Phase.PROVISIONING
        row.save(update_fields=["attempts", "phase", "updated_at"])
        if changed:
            audit_record(actor=None, action=Action.NAMESPACE_PROVISION, target=row, team=row.team, before=before, after=namespace_snapshot(row))
        for request in _open_requests(row):
            request_mark_applying(request)
    namespace.attempts, namespace.phase = row.attempts, row.phase


def _finish_ready(namespace: Namespace, token: str, desired_hash: str, quota_status: dict | None, *, drift: list[str],
                  cluster_uid: str) -> bool:
    """Ready with the applied hash; the request done. False if we lost the claim meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        row = Namespace.objects.select_for_update().filter(pk=namespace.pk, claimed_by=token).first()
        if row is None:
            return False
        if row.phase in _GONE:
            raise _DeletedMeanwhile
        before = namespace_snapshot(row)
        was = row.phase
        row.phase = Phase.READY
        row.observed_hash = desired_hash
        row.last_error = ""
        row.next_attempt_at = None
        row.applied_at = now
        row.claimed_until, row.claimed_by = None, ""
        row.cluster_uid = cluster_uid
        row.partial_apply = {}
        fields = ["phase", "observed_hash", "last_error", "next_attempt_at", "applied_at", "claimed_until", "claimed_by",
                  "cluster_uid", "partial_apply", "updated_at"]
        if quota_status is not None:
            row.quota_used, row.quota_observed_at = quota_status.get("used", {}), now
            fields += ["quota_used", "quota_observed_at"]
        if drift:
            row.drift_repaired_at = now
            fields.append("drift_repaired_at")
            audit_record(actor=None, action=Action.NAMESPACE_DRIFT_REPAIRED, target=row, team=row.team,
                         message="repaired on the cluster: " + ", ".join(drift), after={"drift": drift})
        row.save(update_fields=fields)
        if was != Phase.READY:
            audit_record(actor=None, action=Action.NAMESPACE_READY, target=row, team=row.team, before=before, after=namespace_snapshot(row))
            signals.namespace_ready.send(sender=Namespace, namespace=row, at=now)
        for request in _open_requests(row):
            request_mark_applying(request)  # no-op unless still approved: done is reached through applying
            request_mark_done(request)
    return True


def _finish_error(namespace: Namespace, token: str, exc: ClusterError, *, desired_hash: str = "") -> ReconcileResult:
    """Retryable: stay Provisioning with the error and a next attempt time. Otherwise: Failed."""
    now = timezone.now()
    message = str(exc)
    with transaction.atomic():
        row = Namespace.objects.select_for_update().filter(pk=namespace.pk, claimed_by=token).first()
        if row is None:
            return ReconcileResult("busy", "claim lost while applying")
        if row.phase in _GONE:
            raise _DeletedMeanwhile
        before = namespace_snapshot(row)
        row.last_error = message
        row.claimed_until, row.claimed_by = None, ""
        if exc.retryable:
            delay = backoff_seconds(row.attempts)
            row.next_attempt_at = now + timedelta(seconds=delay)
            earlier = row.partial_apply or {}
            done = set(earlier.get("done", [])) if earlier.get("hash") == desired_hash else set()
            row.partial_apply = {"hash": desired_hash, "done": sorted(done | set(getattr(exc, "applied", [])))} if desired_hash else {}
            row.save(update_fields=["last_error", "next_attempt_at", "claimed_until", "claimed_by", "partial_apply", "updated_at"])
            return ReconcileResult("retry", message, retry_in=delay, reason=failure_reason(exc))
        was = row.phase
        row.phase = Phase.FAILED
        row.next_attempt_at = None
        row.save(update_fields=["phase", "last_error", "next_attempt_at", "claimed_until", "claimed_by", "updated_at"])
        audit_record(actor=None, action=Action.NAMESPACE_FAIL, target=row, team=row.team, before=before, after=namespace_snapshot(row), message=message)
        if was != Phase.FAILED:  # told once per failure, not at every retry of a failed namespace
            signals.namespace_failed.send(sender=Namespace, namespace=row, at=now, error=message)
        for request in _open_requests(row):
            request_mark_failed(request, error=message)
    return ReconcileResult("failed", message, reason=failure_reason(exc))


def failure_reason(exc: ClusterError) -> str:
    """A bounded label for why a cluster call failed: the HTTP status it answered, or unreachable."""
    return f"http_{exc.status}" if exc.status else "unreachable"


# --- Cluster side ------------------------------------------------------------------------


def _prune_role_bindings(namespace: Namespace, objects: list[dict]) -> list[str]:
    """Delete the portal's RoleBindings that no longer match a member (offboarding, role change).

    Only bindings carrying the portal's managed-by label are considered:
    bindings someone created by hand are none of the portal's business.
    """
    keep = {o["metadata"]["name"] for o in objects if o["kind"] == "RoleBinding"}
    live = kube.list_objects(namespace.cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", namespace.name,
                             label_selector=f"{manifests.MANAGED_BY_LABEL}={manifests.MANAGED_BY}")
    pruned = []
    for binding in live:
        name = binding["metadata"]["name"]
        if name not in keep:
            kube.delete_object(namespace.cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", name, namespace.name)
            pruned.append(name)
    return pruned


def _same(desired, live) -> bool:
    """``desired`` is contained in ``live`` (extra live fields are the server's, not drift).

    Strings that are both quantities compare as numbers: the API server may
    canonicalise ``1024Mi`` to ``1Gi``.
    """
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and _same(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(_same(d, item) for d, item in zip(desired, live, strict=True))
    if desired == live:
        return True
    if isinstance(desired, str) and isinstance(live, str):
        try:
            return quantities.parse(desired) == quantities.parse(live)
        except ValueError:
            return False
    return False


def _find_drift(namespace: Namespace, objects: list[dict]) -> list[str]:
    """Objects of the bundle that differ on the cluster (read-only: GETs and one LIST)."""
    drift = []
    for obj in objects:
        meta = obj["metadata"]
        live = kube.get_object(namespace.cluster, obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        if live is None or not _same(body, live):
            drift.append(manifests.object_ref(obj))
    keep = {o["metadata"]["name"] for o in objects if o["kind"] == "RoleBinding"}
    live_bindings = kube.list_objects(namespace.cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", namespace.name,
                                      label_selector=f"{manifests.MANAGED_BY_LABEL}={manifests.MANAGED_BY}")
    drift += [f"RoleBinding/{namespace.name}/{b['metadata']['name']} (no longer a member)"
              for b in live_bindings if b["metadata"]["name"] not in keep]
    return drift


def _read_quota(namespace: Namespace) -> dict | None:
    """Quota status after an apply; a failed read only leaves usage stale, it is not an apply failure."""
    try:
        return kube.read_quota(namespace.cluster, namespace.name, manifests.QUOTA_NAME)
    except ClusterError as exc:
        log.warning("namespace %s: quota status not read: %s", namespace.pk, exc)
        return None


# --- Services ---------------------------------------------------------------------------


def namespace_reconcile(namespace_id: int, *, token: str | None = None, check_drift: bool = False) -> ReconcileResult:
    """Make the cluster match the namespace row; safe to call any number of times.

    * Someone else holds the row → ``busy`` (they will finish the job).
    * Terminating/Deleted → ``gone`` (deletion owns the row now).
    * Ready and the bundle hash equals the applied one → ``unchanged``, and
      NOTHING is written to the cluster. With ``check_drift`` (the periodic
      resync), the live objects are read back and compared; differences are
      re-applied (``repaired``) and shown on the row and in the audit log.
    * Otherwise every object is applied (Namespace first), the portal's
      stale RoleBindings pruned, the quota status read → Ready (``applied``).
    * A retryable cluster error → still Provisioning, ``last_error`` and
      ``next_attempt_at`` set (``retry``, with the backoff); a refusal (4xx)
      → Failed, and the Request failed with the cluster's message.
    """
    token = token or uuid.uuid4().hex
    live_phases = [Phase.PENDING, Phase.PROVISIONING, Phase.READY, Phase.FAILED]
    if not namespace_claim(namespace_id, token, phases=live_phases):
        phase = Namespace.objects.filter(pk=namespace_id).values_list("phase", flat=True).first()
        if phase is None or phase in (Phase.TERMINATING, Phase.DELETED):
            return ReconcileResult("gone")
        return ReconcileResult("busy")
    namespace, desired_hash = None, ""
    try:
        namespace = Namespace.objects.select_related("cluster", "team", "owner").get(pk=namespace_id)
        objects = bundle_for_namespace(namespace)
        desired_hash = manifests.bundle_hash(objects)
        drift: list[str] = []
        if namespace.phase == Phase.READY and namespace.observed_hash == desired_hash:
            if not check_drift:
                namespace_release(namespace_id, token)
                return ReconcileResult("unchanged")
            try:
                drift = _find_drift(namespace, objects)
            except ClusterError as exc:
                # Reading back failed: the namespace is not less Ready for it.
                # Show the error, keep the phase, try again next resync.
                Namespace.objects.filter(pk=namespace_id, claimed_by=token).update(
                    last_error=f"drift check failed: {exc}", quota_observed_at=timezone.now())
                namespace_release(namespace_id, token)
                return ReconcileResult("unchanged", str(exc))
            if not drift:
                quota_status = _read_quota(namespace)
                Namespace.objects.filter(pk=namespace_id, claimed_by=token).update(
                    last_error="", quota_observed_at=timezone.now(),
                    **({"quota_used": quota_status.get("used", {})} if quota_status is not None else {}))
                namespace_release(namespace_id, token)
                return ReconcileResult("unchanged")
            log.warning("namespace %s drifted on %s: %s", namespace.name, namespace.cluster.name, ", ".join(drift))
        _start_attempt(namespace, token)
        _refuse_reserved(namespace)
        partial = namespace.partial_apply or {}
        skip = frozenset(partial.get("done", [])) if partial.get("hash") == desired_hash else frozenset()
        applied = kube.apply(namespace.cluster, objects, ownership=namespace_ownership(namespace), skip=skip)
        pruned = _prune_role_bindings(namespace, objects)
        quota_status = _read_quota(namespace)
        if not _finish_ready(namespace, token, desired_hash, quota_status, drift=drift, cluster_uid=applied.namespace_uid):
            return ReconcileResult("busy", "claim lost while applying")
        return ReconcileResult("repaired" if drift else "applied", pruned=pruned, drift=drift, recovered=bool(namespace.last_error))
    except ClusterError as exc:
        try:
            return _finish_error(namespace, token, exc, desired_hash=desired_hash)
        except _DeletedMeanwhile:
            namespace_release(namespace_id, token)
            return ReconcileResult("gone")
    except _DeletedMeanwhile:
        namespace_release(namespace_id, token)
        return ReconcileResult("gone")
    except BaseException:
        # A bug or the database going away: let go so the resync can retry,
        # and let the error surface in the worker's log.
        namespace_release(namespace_id, token)
        raise


def namespace_delete(*, actor, namespace: Namespace) -> Namespace:
    """Delete ``namespace``: Terminating now (audited), removed from the cluster by the worker.

    Team managers and platform admins may delete; ``actor=None`` is the
    system (the TTL reaper). Deleting a namespace that is already being
    deleted is a no-op. The row stays, phase Deleted, for history.
    """
    if actor is not None and not can_manage_team(actor, namespace.team):
        raise PermissionDenied(f"only managers of team {namespace.team.slug} or a platform admin can delete its namespaces")
    with transaction.atomic():
        row = Namespace.objects.select_for_update().select_related("team", "cluster").get(pk=namespace.pk)
        if row.phase in (Phase.TERMINATING, Phase.DELETED):
            return row
        _mark_terminating(row, actor=actor, action=Action.NAMESPACE_DELETE, message=f"delete {row.name} on cluster {row.cluster.name}")
    namespace.phase = row.phase
    return row


def _mark_terminating(row: Namespace, *, actor, action: Action, message: str, extra: dict | None = None) -> None:
    """The one deletion transition: Terminating, audited, open request failed, delete task after commit.

    Called inside the caller's transaction with ``row`` locked
    (``select_for_update``) and known to be live, so the phase check and
    this write are atomic: two callers racing for the same row serialise on
    the lock and the second one sees Terminating and does nothing.
    ``extra`` is merged into the audit row's before/after (the reaper adds
    ``expires_at``).
    """
    before = {**namespace_snapshot(row), **(extra or {})}
    row.phase = Phase.TERMINATING
    row.next_attempt_at = None
    row.save(update_fields=["phase", "next_attempt_at", "updated_at"])
    audit_record(actor=actor, action=action, target=row, team=row.team, before=before,
                 after={**namespace_snapshot(row), **(extra or {})}, message=message)
    # A request still open (approved, never applied) will not be applied now.
    for request in _open_requests(row):
        request_mark_failed(request, error="namespace deleted before it was applied")
    from apps.namespaces.tasks import delete_namespace  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: delete_namespace.delay(row.pk))


# --- TTL: the reaper and the protected flag ---------------------------------------------------


def namespace_expire(namespace_id: int, *, now=None) -> bool:
    """Start deleting one expired namespace (the reaper's unit of work); True if this call did.

    The expiry rule is checked again on the locked row, not trusted from the
    list the reaper selected: between the two a manager may have protected
    the namespace, someone may have deleted it, or another reaper may have
    got there first. Only the caller that flips it to Terminating audits
    ``namespace.expire`` and enqueues the cluster delete, so concurrent
    reapers delete once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = Namespace.objects.select_for_update(of=("self",)).select_related("team", "cluster").filter(pk=namespace_id).first()
        if row is None or not namespace_is_reapable(row, now):
            return False
        expires_at = row.expires_at.isoformat()
        _mark_terminating(row, actor=None, action=Action.NAMESPACE_EXPIRE, extra={"expires_at": expires_at},
                          message=f"TTL expired at {expires_at} (grace {settings.NAMESPACE_EXPIRY_GRACE_HOURS} h): "
                                  f"delete {row.name} on cluster {row.cluster.name}")
    return True


def namespaces_reap_expired(now=None) -> list[int]:
    """The TTL reaper (hourly, celery beat): start deleting every expired namespace; returns their ids.

    Expired means live, not ``protected``, and ``expires_at`` more than
    ``NAMESPACE_EXPIRY_GRACE_HOURS`` in the past (the grace period leaves
    time to notice the last warning and ask for an extension). Each
    namespace goes through the same transition as a manual delete
    (``namespace_delete``'s), with actor None and an audit row saying it
    expired; the cluster delete then runs in the worker. Running it again,
    or twice at once, deletes nothing twice (see ``namespace_expire``).
    """
    now = now or timezone.now()
    candidates = list(namespaces_expired(now).values_list("pk", flat=True))
    # One short transaction per namespace: a slow or failing one does not
    # hold locks on the others, and a crash mid-way keeps what was done.
    reaped = [pk for pk in candidates if namespace_expire(pk, now=now)]
    if reaped:
        log.info("reaper: %d expired namespace(s) to delete: %s", len(reaped), reaped)
    return reaped


def namespace_set_protected(*, actor, namespace: Namespace, protected: bool) -> Namespace:
    """Set or clear ``protected`` (a protected namespace is never reaped, whatever its TTL).

    Team managers and platform admins may; members and viewers may not.
    A namespace already being deleted cannot be saved by protecting it any
    more. Setting the value it already has changes and audits nothing.
    """
    if not can_manage_team(actor, namespace.team):
        raise PermissionDenied(f"only managers of team {namespace.team.slug} or a platform admin can protect its namespaces")
    with transaction.atomic():
        # Locked so the reaper (which re-checks ``protected`` under the same
        # lock) either sees the new value or has already started deleting.
        row = Namespace.objects.select_for_update(of=("self",)).select_related("team", "cluster").get(pk=namespace.pk)
        if not row.is_live:
            raise ValidationError(f"namespace {row.name} is already being deleted")
        if row.protected != protected:
            before = {"protected": row.protected, "expires_at": row.expires_at.isoformat() if row.expires_at else None}
            row.protected = protected
            row.save(update_fields=["protected", "updated_at"])
            audit_record(actor=actor, action=Action.NAMESPACE_PROTECT if protected else Action.NAMESPACE_UNPROTECT, target=row,
                         team=row.team, before=before, after={**before, "protected": protected},
                         message=f"{row.name} {'protected from' if protected else 'no longer protected from'} the TTL reaper")
    namespace.protected = row.protected
    return row


def namespace_finalize_delete(namespace_id: int, *, token: str | None = None) -> ReconcileResult:
    """Delete a Terminating namespace on its cluster, then mark it Deleted.

    The cluster answering 404 counts as done (someone, or an earlier
    attempt, already deleted it). Retryable errors leave it Terminating with
    the error and a next attempt time for the resync.
    """
    token = token or uuid.uuid4().hex
    if not namespace_claim(namespace_id, token, phases=[Phase.TERMINATING]):
        phase = Namespace.objects.filter(pk=namespace_id).values_list("phase", flat=True).first()
        return ReconcileResult("gone" if phase in (None, Phase.DELETED) else "busy")
    namespace = Namespace.objects.select_related("cluster", "team").get(pk=namespace_id)
    # Not the portal's to delete (a reserved name, someone else's namespace
    # of that name): the record is closed and the cluster left alone.
    left_alone = ""
    try:
        _refuse_reserved(namespace)
        kube.delete_namespace(namespace.cluster, namespace.name, ownership=namespace_ownership(namespace))
    except (kube.NotOwnedError, _Reserved) as exc:
        left_alone = str(exc)
    except ClusterError as exc:
        return _delete_retry_later(namespace, token, exc)
    except BaseException:
        namespace_release(namespace_id, token)
        raise
    with transaction.atomic():
        row = Namespace.objects.select_for_update().filter(pk=namespace_id, claimed_by=token).first()
        if row is None:
            return ReconcileResult("busy", "claim lost while deleting")
        before = namespace_snapshot(row)
        row.phase = Phase.DELETED
        row.deleted_at = timezone.now()
        row.last_error = left_alone
        row.next_attempt_at = None
        row.claimed_until, row.claimed_by = None, ""
        row.save(update_fields=["phase", "deleted_at", "last_error", "next_attempt_at", "claimed_until", "claimed_by", "updated_at"])
        message = (f"deleted in the portal only; nothing was deleted on cluster {row.cluster.name}: {left_alone}" if left_alone
                   else f"deleted on cluster {row.cluster.name}")
        audit_record(actor=None, action=Action.NAMESPACE_DELETED, target=row, team=row.team, before=before, after=namespace_snapshot(row),
                     message=message)
    return ReconcileResult("applied", left_alone)


def _delete_retry_later(namespace: Namespace, token: str, exc: ClusterError) -> ReconcileResult:
    """The delete failed: Terminating still, with the error; retried later unless the cluster refused it."""
    delay = backoff_seconds(namespace.attempts + 1)
    Namespace.objects.filter(pk=namespace.pk, claimed_by=token).update(
        last_error=str(exc), attempts=namespace.attempts + 1, claimed_until=None, claimed_by="",
        next_attempt_at=timezone.now() + timedelta(seconds=delay) if exc.retryable else None,
    )
    return ReconcileResult("retry" if exc.retryable else "failed", str(exc), retry_in=delay if exc.retryable else None,
                           reason=failure_reason(exc))


def group_by_cluster(namespace_ids: list[int]) -> dict[int, list[int]]:
    """cluster id -> the given namespace ids on it (one query)."""
    groups: dict[int, list[int]] = {}
    for pk, cluster_id in Namespace.objects.filter(pk__in=namespace_ids).values_list("pk", "cluster_id"):
        groups.setdefault(cluster_id, []).append(pk)
    return groups


# A cluster that is reachable again gets its waiting rows re-driven at this rate.
REDRIVE_PER_SECOND = 20


def namespaces_waiting_on(cluster_id: int, now=None) -> dict[str, list[int]]:
    """Rows of ``cluster_id`` waiting out a backoff (next attempt in the future), made due now.

    Their claims (held for the scheduled retry) are dropped, so the re-driven
    task takes the row; the old retry later finds it done and does nothing.
    """
    now = now or timezone.now()
    waiting = Namespace.objects.filter(cluster_id=cluster_id, next_attempt_at__gt=now)
    reconcile = list(waiting.filter(phase__in=[Phase.PENDING, Phase.PROVISIONING]).values_list("pk", flat=True))
    delete = list(waiting.filter(phase=Phase.TERMINATING).values_list("pk", flat=True))
    Namespace.objects.filter(pk__in=reconcile + delete).update(next_attempt_at=now, claimed_until=None, claimed_by="")
    return {"reconcile": reconcile, "delete": delete}


def namespaces_to_resync(now=None) -> dict[str, list[int]]:
    """What the periodic resync re-drives, by kind of work.

    * ``reconcile``: Pending/Provisioning rows whose next attempt is due and
      that nobody holds (a lost task, a dead worker, an eager-mode retry);
    * ``drift``: Ready rows not read back for ``RECONCILE_DRIFT_CHECK_SECONDS``;
    * ``delete``: Terminating rows whose next attempt is due.
    """
    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    stale = now - timedelta(seconds=settings.RECONCILE_DRIFT_CHECK_SECONDS)
    base = Namespace.objects.filter(free)
    return {
        "reconcile": list(base.filter(due, phase__in=[Phase.PENDING, Phase.PROVISIONING]).values_list("pk", flat=True)),
        "drift": list(base.filter(phase=Phase.READY).filter(Q(quota_observed_at__isnull=True) | Q(quota_observed_at__lt=stale))
                      .filter(Q(applied_at__isnull=True) | Q(applied_at__lt=stale)).values_list("pk", flat=True)),
        "delete": list(base.filter(due, phase=Phase.TERMINATING).values_list("pk", flat=True)),
    }
