"""Lifetime extensions: ask for a namespace with a TTL to live longer, in the usual request workflow.

An extension asks for ``ttl_hours`` counted from now (bounded by
``NAMESPACE_MAX_TTL_HOURS``, like a new namespace's TTL): approving it sets
``expires_at`` to the time of approval plus those hours. A manager of the
team decides (never the requester), or an auto-approval rule of kind
"extension" (``ApprovalRule.max_ttl_hours``). The new expiry is written into
the namespace's ``expires-at`` annotation by the next apply, which marks the
request done like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.approvals.kinds import step
from apps.approvals.models import Request
from apps.approvals.services import request_create, request_mark_applying, request_note_outcome, request_replay
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.namespaces.models import Namespace
from apps.teams.selectors import can_request_for_team

REASON_MAX_LENGTH = 500


def _when(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z")


def extension_problems(namespace: Namespace, ttl_hours, now=None) -> dict[str, list[str]]:
    """Why ``namespace`` cannot be asked to live ``ttl_hours`` from now (field -> messages); {} when it can."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not namespace.is_live:
        errors["namespace"] = [f"namespace {namespace.name} is being deleted; it cannot be extended"]
    elif namespace.expires_at is None:
        errors["namespace"] = [f"namespace {namespace.name} has no expiry; there is nothing to extend"]
    elif namespace.protected:
        errors["namespace"] = [f"namespace {namespace.name} is protected: the reaper never deletes it, so there is nothing to extend"]
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int) or ttl_hours < 1:
        errors["ttl_hours"] = ["must be a whole number of hours, at least 1"]
    elif ttl_hours > settings.NAMESPACE_MAX_TTL_HOURS:
        errors["ttl_hours"] = [f"must be at most {settings.NAMESPACE_MAX_TTL_HOURS} hours from now (NAMESPACE_MAX_TTL_HOURS)"]
    elif "namespace" not in errors and now + timedelta(hours=ttl_hours) <= namespace.expires_at:
        left = int((namespace.expires_at - now).total_seconds() // 3600)
        errors["ttl_hours"] = [f"namespace {namespace.name} already lives until {_when(namespace.expires_at)} "
                               f"(about {left} h from now); ask for more than {left} hours"]
    return errors


def extension_request_validate(*, namespace: Namespace, ttl_hours, reason: str) -> dict:
    """Check an extension request; returns its payload or raises ValidationError (field names as the API's)."""
    errors = extension_problems(namespace, ttl_hours)
    pending = Request.objects.filter(kind=Request.Kind.EXTENSION, namespace=namespace, state=Request.State.SUBMITTED).first()
    if pending is not None:
        errors.setdefault("namespace", []).append(f"namespace {namespace.name} already has an open extension request "
                                                  f"(request #{pending.pk}); wait for its decision or cancel it")
    if not isinstance(reason, str) or len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [f"must be at most {REASON_MAX_LENGTH} characters"]
    if errors:
        raise ValidationError(errors)
    return {"namespace_id": namespace.pk, "ttl_hours": ttl_hours, "previous_expires_at": namespace.expires_at.isoformat(),
            "reason": reason}


@transaction.atomic
def extension_request_submit(*, actor, namespace: Namespace, ttl_hours, reason: str = "", idempotency_key: str = "") -> Request:
    """Ask for ``namespace`` to live ``ttl_hours`` from now; a manager of its team decides (or a rule).

    Members and managers of the team may ask; one open extension per
    namespace (two concurrent submits queue on the namespace row).
    """

    def body(existing: Request) -> list[tuple[str, object, object]]:
        payload = existing.payload or {}
        return [("namespace", namespace.pk, existing.namespace_id), ("ttl_hours", ttl_hours, payload.get("ttl_hours")),
                ("reason", reason or "", payload.get("reason", ""))]

    replay = request_replay(actor=actor, kind=Request.Kind.EXTENSION, idempotency_key=idempotency_key, body=body)
    if replay is not None:
        return replay
    if not can_request_for_team(actor, namespace.team):
        raise PermissionDenied(f"only members of team {namespace.team.slug} can ask to extend its namespaces")
    namespace = Namespace.objects.select_for_update(of=("self",)).select_related("team", "cluster").get(pk=namespace.pk)
    payload = extension_request_validate(namespace=namespace, ttl_hours=ttl_hours, reason=reason or "")
    return request_create(actor=actor, kind=Request.Kind.EXTENSION, team=namespace.team, cluster=namespace.cluster,
                          name=namespace.name, namespace=namespace, payload=payload, idempotency_key=idempotency_key)


def extension_request_approve(*, actor, request: Request) -> None:
    """What approving an extension does: ``expires_at`` becomes now + the hours asked (audited); the worker re-applies the annotation.

    Checked again on the locked row: since the request was made the namespace
    may have been deleted, protected, or extended further by another request.
    """
    namespace = Namespace.objects.select_for_update(of=("self",)).select_related("team", "cluster").filter(pk=request.namespace_id).first()
    if namespace is None:
        raise ServiceError("the namespace is gone; reject this request")
    now = timezone.now()
    problems = extension_problems(namespace, request.payload.get("ttl_hours"), now)
    if problems:
        raise ServiceError("; ".join(message for messages in problems.values() for message in messages) + "; reject this request")
    before = {"expires_at": namespace.expires_at.isoformat()}
    namespace.expires_at = now + timedelta(hours=request.payload["ttl_hours"])
    namespace.save(update_fields=["expires_at", "updated_at"])
    request_note_outcome(request, expires_at=namespace.expires_at.isoformat())
    audit_record(actor=actor, action=Action.NAMESPACE_EXTEND, target=namespace, team=namespace.team, before=before,
                 after={"expires_at": namespace.expires_at.isoformat()}, message=f"extension request #{request.pk}")
    request_mark_applying(request)
    from apps.namespaces.tasks import reconcile_namespace  # tasks import services; keep the cycle lazy

    transaction.on_commit(lambda: reconcile_namespace.delay(namespace.pk))
    return None


def extension_request_preview(request: Request) -> str:
    """What approving changes, as text: the expiry before and the one approving sets."""
    asked = request.payload.get("ttl_hours")
    previous = request.payload.get("previous_expires_at", "")
    if request.state == Request.State.SUBMITTED:
        return f"expires-at: {previous}\n      -> now + {asked} h when approved (now that is {_when(timezone.now() + timedelta(hours=asked))})\n"
    return f"expires-at: {previous}\n      -> {asked} h after the approval\n"


def extension_request_progress(request: Request) -> list[dict] | None:
    """After approval: the new expiry, then the annotation being applied."""
    if request.state not in (Request.State.APPLYING, Request.State.DONE, Request.State.FAILED) or request.namespace_id is None:
        return None
    namespace = request.namespace
    granted = request.payload.get("expires_at")
    steps = [step(f"Expiry moved to {_when(datetime.fromisoformat(granted))}" if granted else "Expiry moved", "ok",
                  request.decided_at)]
    if request.state == Request.State.APPLYING:
        steps.append(step(f"Applying to cluster {namespace.cluster.name}", "busy", request.started_at, error=namespace.last_error))
    elif request.state == Request.State.DONE:
        steps.append(step(f"Applied to cluster {namespace.cluster.name}", "ok", request.finished_at))
    else:
        steps.append(step("Failed", "bad", request.finished_at, error=request.last_error))
    return steps
