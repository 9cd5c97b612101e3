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


def audit_actions() -> list[str]:
    """The distinct actions recorded so far (for the filter's menu)."""
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
