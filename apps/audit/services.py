"""The one way to write the audit log."""

from __future__ import annotations

from django.db import models

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
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor_name,
        via=via or current_via(),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:255],
        team=team,
        before=before,
        after=after,
        message=message,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
    )
