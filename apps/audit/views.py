"""Audit history pages (read-only): filterable, paginated list and CSV export.

Admins and auditors only (``audit_events_for`` decides). Nothing here writes.
"""

from __future__ import annotations

import csv
import json

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from apps.audit.diff import field_changes
from apps.audit.filters import AuditEventFilterSet
from apps.audit.selectors import audit_actions, audit_events_for
from apps.core.htmx import render_page

PAGE_SIZE = 50
CSV_COLUMNS = ["time", "actor", "via", "action", "target_type", "target_id", "target", "team", "message", "request_id", "client_request_id", "before", "after"]


@login_required
@require_GET
def audit_list(request):
    """The audit history, newest first, filtered by the FilterSet's GET parameters.

    The ``rows`` partial is what htmx swaps when a filter changes.
    """
    filterset = AuditEventFilterSet(request.GET, queryset=audit_events_for(request.user))
    # Keyset pages (``?older=<created_at>~<id>``): no COUNT over the table, and
    # a page does not shift while new events arrive.
    rows = filterset.qs.order_by("-created_at", "-id")
    older = _cursor(request.GET.get("older", ""))
    if older is not None:
        rows = rows.filter(Q(created_at__lt=older[0]) | Q(created_at=older[0], pk__lt=older[1]))
    page = list(rows[:PAGE_SIZE + 1])
    has_older = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    for event in page:
        event.changes = field_changes(event.before, event.after)
    context = {"filterset": filterset, "page": page, "actions": audit_actions(), "paged": older is not None,
               "older": f"{page[-1].created_at.isoformat()}~{page[-1].pk}" if has_older else ""}
    return render_page(request, "audit/list.html", context, partial="rows")


def _cursor(raw: str):
    """``<ISO time>~<id>`` as (datetime, id), or None (a malformed cursor shows the newest page)."""
    moment, _, pk = raw.partition("~")
    when = parse_datetime(moment) if moment else None
    return (when, int(pk)) if when is not None and pk.isdigit() else None


class _Echo:
    """A file-like object csv.writer can write to; each row is yielded as it is written."""

    def write(self, value):
        return value


def _csv_cell(value) -> str:
    # Spreadsheets execute cells starting with these characters as formulas
    # (CSV injection); actor names and targets come from users.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
@require_GET
def audit_export(request):
    """The filtered audit history as CSV, streamed so a large export does not sit in memory."""
    filterset = AuditEventFilterSet(request.GET, queryset=audit_events_for(request.user))
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for event in filterset.qs.iterator(chunk_size=500):
            yield writer.writerow([_csv_cell(v) for v in (
                event.created_at.isoformat(), event.actor_name, event.via, event.action, event.target_type,
                event.target_id, event.target_repr, event.team.slug if event.team_id else "", event.message,
                event.request_id, event.client_request_id,
                json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                json.dumps(event.after, sort_keys=True) if event.after is not None else "",
            )])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response
