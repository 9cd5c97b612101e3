"""The request workflow, for every kind of request: submit, decide, and the states after approval.

This module is the only writer of ``Request`` rows. Its rules: at most one
request per requester and ``Idempotency-Key``; only managers of the team or
platform admins decide, never the requester (four-eyes); a request is
decided once; an approved request moves applying -> done | failed.

What a request of some kind contains and what approving it does belong to
the app that owns the kind (``apps.approvals.kinds``). Its submit service
checks its own rules between ``request_replay`` and ``request_create``; its
``approve`` hook runs inside ``request_approve``; it reports the work that
follows with ``request_mark_applying`` / ``_done`` / ``_failed``. Rules that
hold for every kind (team budgets, auto-approval rules) are ``RequestPolicy``s:
checked on submit and again, under their lock, on every approval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.approvals import signals
from apps.approvals.kinds import request_kind, request_policies
from apps.approvals.models import Request
from apps.approvals.selectors import request_preflight
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import IdempotencyKeyReused, ServiceError
from apps.teams.selectors import can_manage_team


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


# --- Submit ----------------------------------------------------------------------------


def _lock_idempotency_key(actor, key: str) -> None:
    """Serialise submits that carry the same key, until the transaction ends.

    The unique constraint already guarantees a single row; the lock makes the
    *loser* of a race wait for the winner's commit, find its row and return
    it, exactly like a replay that came later. Other databases (the SQLite
    demo) serialise writers anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"portal-request-idem:{actor.pk}:{key}"])


def request_replay(*, actor, kind: str, idempotency_key: str,
                   body: Callable[[Request], Iterable[tuple[str, object, object]]]) -> Request | None:
    """The request an earlier submit with this ``Idempotency-Key`` created, or None: every submit service asks first.

    Call it inside the submit's transaction, before checking the kind's
    rules (a replay of a request that now exists would fail them). The key's
    lock is held until that transaction ends, so concurrent submits with one
    key queue up and all but the first get the first one's request.

    ``body(existing)`` lists ``(field, value sent now, value the earlier
    request was made with)`` in the order of the request body, normalised
    the way the service stores them. When the earlier request is of another
    kind, or a pair differs, the key is being reused for a different request:
    ``IdempotencyKeyReused`` names the first difference (``"kind"``). The
    request returned has ``replayed`` set, so the API answers 200, not 201.
    """
    if not idempotency_key:
        return None
    if not connection.in_atomic_block:
        raise RuntimeError("request_replay must run inside the submit's transaction (the key's lock lasts until it ends)")
    _lock_idempotency_key(actor, idempotency_key)
    existing = Request.objects.select_related("team", "cluster").filter(requester=actor, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    field = "kind" if existing.kind != kind else next((name for name, now, before in body(existing) if now != before), None)
    if field is not None:
        what = "another kind of request" if field == "kind" else f"a request with a different `{field}`"
        raise IdempotencyKeyReused(f"this Idempotency-Key was already used for request #{existing.pk}, {what}; "
                                   "use a new key for a new request", field=field)
    existing.replayed = True
    return existing


def request_create(*, actor, kind: str, team, payload: dict, cluster=None, name: str = "",
                   idempotency_key: str = "", namespace=None) -> Request:
    """Record a submitted request whose kind's rules the caller has checked; audited as ``request.submit``.

    The insert runs in a savepoint: when a unique constraint refuses it (one
    pending request per cluster and name, one per key) the IntegrityError
    leaves the caller's transaction usable, so it can answer with a message.
    """
    unsaved = Request(kind=kind, team=team, requester=actor, cluster=cluster, name=name, payload=payload,
                      idempotency_key=idempotency_key, namespace=namespace)
    _check_policies(unsaved, lock=False)
    with transaction.atomic():
        unsaved.save(force_insert=True)
    request = unsaved
    audit_record(actor=actor, action=Action.REQUEST_SUBMIT, target=request, after=request_snapshot(request), team=team)
    signals.request_submitted.send(sender=Request, request=request)
    for policy in request_policies():
        rule = policy.auto_approve(request) if policy.auto_approve is not None else None
        if rule:
            _approve_by_rule(request, rule)
            break
    return request


def _check_policies(request: Request, *, lock: bool) -> None:
    for policy in request_policies():
        if policy.check is not None:
            policy.check(request, lock=lock)


def _approve_by_rule(request: Request, rule: str) -> None:
    """Approve ``request`` on behalf of an auto-approval rule: the decider is the rule, audited by name.

    The same locked policy checks and approve hook as a manager's approval,
    in a savepoint: if a check refuses now (the budget ran out since the
    submit's check), the request simply stays submitted for a manager, with
    the reason on its timeline.
    """
    if request_kind(request.kind).preflight is not None:
        verdict = request_preflight(request)
        if verdict and verdict["denied"]:  # overridable or not: a rule never overrides the cluster
            request_note_waiting(request, f"rule {rule} matched, but the cluster's admission denies it; a manager decides")
            return
    before = request_snapshot(request)
    try:
        with transaction.atomic():
            request.state = Request.State.APPROVED
            request.decided_by_rule = rule[:100]
            request.reason = f"approved by rule {rule}"
            request.decided_at = timezone.now()
            request.save(update_fields=["state", "decided_by_rule", "reason", "decided_at"])
            audit_record(actor=None, action=Action.REQUEST_APPROVE, target=request, before=before,
                         after=request_snapshot(request), team=request.team, message=f"approved by rule {rule}")
            signals.request_decided.send(sender=Request, request=request)
            _check_policies(request, lock=True)
            created = request_kind(request.kind).approve(actor=None, request=request)
            if created is not None:
                request.namespace = created
                request.save(update_fields=["namespace"])
    except (ValidationError, ServiceError) as exc:
        request.refresh_from_db()
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        request_note_waiting(request, f"rule {rule} matched but could not approve it: {' '.join(messages)}")


# --- Decide ----------------------------------------------------------------------------


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


def _decide(*, actor, request: Request, state: str, reason: str, action: Action, message: str = "") -> Request:
    request = _lock_for_decision(actor=actor, request=request)
    before = request_snapshot(request)
    request.state = state
    request.decider = actor
    request.reason = reason
    request.decided_at = timezone.now()
    request.save()
    audit_record(actor=actor, action=action, target=request, before=before, after=request_snapshot(request), team=request.team,
                 message=message)
    signals.request_decided.send(sender=Request, request=request)
    return request


@transaction.atomic
def request_approve(*, actor, request: Request, reason: str = "", override_reason: str = "") -> Request:
    """Approve a submitted request (team manager or platform admin, never the requester).

    For kinds with a preflight, the cluster's admission chain is asked first
    (a dry run of what approving applies): a denial can only be approved
    with an ``override_reason``, which the audit row keeps. A cluster that
    cannot be asked does not block (that is not a denial). Then the kind's
    ``approve`` hook carries it out in the same transaction; when it
    refuses, nothing of the approval remains.
    """
    hooks = request_kind(request.kind)
    message = ""
    if hooks.preflight is not None and request.state == Request.State.SUBMITTED:
        verdict = request_preflight(request)
        if verdict and verdict["needs_override"]:
            denied = "; ".join(f"{i.kind} {i.name}: {i.message}" for i in verdict["items"] if i.outcome == "denied" and i.overridable)
            if not (override_reason or "").strip():
                raise ValidationError({"override_reason": [
                    f"the cluster's admission denies what approving applies ({denied}); fix the request, reject it, "
                    "or approve with an override reason"]})
            message = f"preflight denied ({denied}); overridden: {override_reason.strip()}"
    request = _decide(actor=actor, request=request, state=Request.State.APPROVED, reason=reason,
                      action=Action.REQUEST_APPROVE, message=message)
    _check_policies(request, lock=True)
    created = hooks.approve(actor=actor, request=request)
    if created is not None:
        request.namespace = created
        request.save(update_fields=["namespace"])
    return request


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


# --- After approval: applying -> done | failed ------------------------------------------

# The states each later state may be reached from.
_REACHED_FROM = {
    Request.State.APPLYING: (Request.State.APPROVED,),
    Request.State.DONE: (Request.State.APPLYING,),
    Request.State.FAILED: (Request.State.APPROVED, Request.State.APPLYING),
}
_AUDIT_ACTION = {
    Request.State.APPLYING: Action.REQUEST_APPLYING,
    Request.State.DONE: Action.REQUEST_DONE,
    Request.State.FAILED: Action.REQUEST_FAILED,
}


@transaction.atomic
def _move(request: Request, state: str, *, error: str = "") -> bool:
    """Move an approved request on, audited (actor: the system); False, writing nothing, if it is not in a state that leads there.

    The row is re-read under a lock, so concurrent reports (a worker's
    retry, a deletion) move it once. ``request``, the caller's copy, is
    updated too.
    """
    row = (Request.objects.select_for_update(of=("self",)).select_related("team", "cluster")
           .filter(pk=request.pk, state__in=_REACHED_FROM[state]).first())
    if row is None:
        return False
    before = request_snapshot(row)
    row.state = state
    if state == Request.State.APPLYING:
        row.started_at = timezone.now()
    else:
        row.finished_at = timezone.now()
    row.last_error = error
    row.save(update_fields=["state", "started_at", "finished_at", "last_error"])
    audit_record(actor=None, action=_AUDIT_ACTION[state], target=row, before=before, after=request_snapshot(row),
                 team=row.team, message=error)
    request.state, request.started_at, request.finished_at, request.last_error = row.state, row.started_at, row.finished_at, row.last_error
    return True


def request_mark_applying(request: Request) -> bool:
    """The owning app started carrying out an approved request; False if it is not approved (any more)."""
    return _move(request, Request.State.APPLYING)


def request_mark_done(request: Request) -> bool:
    """What the request asked for is in place; False if it was not being applied."""
    return _move(request, Request.State.DONE)


def request_mark_failed(request: Request, *, error: str) -> bool:
    """Carrying out an approved request failed for good; ``error`` is shown on its timeline. False if it was already finished."""
    return _move(request, Request.State.FAILED, error=error)


def request_note_waiting(request: Request, message: str) -> None:
    """Say on an applying request's timeline what it still waits for (its state does not change)."""
    Request.objects.filter(pk=request.pk).update(last_error=message)
    request.last_error = message



def request_note_outcome(request: Request, **facts) -> None:
    """Add what carrying out an approved request decided (e.g. the expiry an extension granted) to its payload."""
    request.payload = {**request.payload, **facts}
    Request.objects.filter(pk=request.pk).update(payload=request.payload)
