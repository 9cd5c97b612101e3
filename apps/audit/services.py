"""The one way to write the audit log."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apps.audit import chain
from apps.audit.actions import Action
from apps.audit.models import AuditEvent
from apps.core.context import current_client_request_id, current_request_id, current_via


def audit_record(
    *,
    actor,
    action: Action,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    team=None,
    message: str = "",
    via: str | None = None,
) -> AuditEvent:
    """Append an audit row; call it inside the service's transaction.

    ``actor`` is a user or None (the system/worker acting on its own).
    ``action`` is an ``Action`` (or its value); anything else raises
    ValueError and nothing is written, so a typo cannot start a new kind of
    row that no filter knows.
    """
    try:
        action = Action(action)
    except ValueError:
        raise ValueError(f"unknown audit action {action!r}: add it to apps.audit.actions.Action") from None
    if actor is not None:
        actor_name = actor.get_username()
    else:
        actor_name = "worker" if current_via() == "worker" else "system"
    event = AuditEvent(
        created_at=timezone.now(),
        actor=actor,
        actor_name=actor_name,
        via=via or current_via(),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:255],
        team=team,
        # Through JSON and back: the stored form, so the hash is of what the database keeps.
        before=json.loads(json.dumps(before, cls=DjangoJSONEncoder)) if before is not None else None,
        after=json.loads(json.dumps(after, cls=DjangoJSONEncoder)) if after is not None else None,
        message=message,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
    )
    event.content_hash = chain.content_hash({name: getattr(event, name) for name in chain.CONTENT_FIELDS})
    event.save(force_insert=True)
    # Linked into the hash chain later by the sealer (beat task, audit_verify, the export), never inside
    # the writer's transaction: writers do not wait for each other.
    return event
