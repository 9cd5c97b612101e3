"""Reads of the audit log: who may read it, and the rows with what their pages need."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from apps.audit.models import AuditEvent


def audit_events_for(user) -> QuerySet[AuditEvent]:
    """Every audit row, newest first, for platform admins and auditors; anyone else is refused.

    The audit log spans every team, so there is no per-team slice of it here.
    """
    if not user.can_audit:
        raise PermissionDenied("Only platform admins and auditors read the audit history.")
    return AuditEvent.objects.select_related("team").order_by("-created_at", "-id")


def audit_events_readable_by(user) -> QuerySet[AuditEvent]:
    """The API's slice: admins and auditors everything; team managers their teams' events; others nothing (empty)."""
    if user.can_audit:
        return AuditEvent.objects.select_related("team")
    from apps.teams.models import Membership

    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("team_id")
    return AuditEvent.objects.select_related("team").filter(team_id__in=managed)


def audit_actions() -> list[str]:
    """Every action there is (the typed enumeration: no scan of the table for the filter's menu)."""
    from apps.audit.actions import Action

    return sorted(Action.values)
