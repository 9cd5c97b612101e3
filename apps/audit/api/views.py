"""``GET /api/v1/audit-events/`` (keyset-paginated, filtered) and ``/export/?format=csv|jsonl`` (streamed).

Admins and auditors read everything, team managers their teams' events.
The JSON-lines export, oldest first, carries each event's content hash and
seal (and the purge checkpoint the chain starts from), so
``manage.py audit_verify --file`` can verify it without the database.
"""

from __future__ import annotations

import csv
import json

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation

from apps.audit import chain
from apps.audit.filters import AuditEventFilterSet
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from apps.audit.selectors import audit_events_readable_by
from apps.core.api.errors import error_responses
from apps.core.api.pagination import StrictCursorPagination


class AuditEventSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True, allow_null=True, default=None)
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "via", "action", "target_type", "target_id", "target_repr", "team", "before",
                  "after", "message", "request_id", "client_request_id", "content_hash"]
        read_only_fields = fields


class NewestFirst(StrictCursorPagination):
    """Keyset pagination on (created_at, id): the first page costs the same at a million rows."""

    ordering = ("-created_at", "-id")


class FormatIsTheExportFormat(DefaultContentNegotiation):
    """``?format=`` names the export's file format here, not a DRF renderer: answer with the default renderer (errors)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@extend_schema_view(
    list=extend_schema(summary="List audit events", tags=["audit"],
                       description="Newest first, keyset-paginated (`next`/`previous`). Filters: actor, action (prefix), team, "
                                   "target (name or type:id), via, since/until (dates). Admins and auditors see all; team "
                                   "managers their teams' events.",
                       responses={200: AuditEventSerializer(many=True), **error_responses(400, 401)}),
)
class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # schema and filter model; rows come from the selector
    filterset_class = AuditEventFilterSet
    pagination_class = NewestFirst

    def get_queryset(self):
        return audit_events_readable_by(self.request.user)

    @extend_schema(summary="Export audit events (CSV or JSON lines, streamed)", tags=["audit"],
                   parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"], description="default csv")],
                   description="The filtered set, oldest first. JSON lines carry each event's hash and seal (and the purge "
                               "checkpoint first): verify it with `manage.py audit_verify --file`.",
                   responses={(200, "text/csv"): {"type": "string"}, (200, "application/jsonl"): {"type": "string"},
                              **error_responses(400, 401)})
    @action(detail=False, methods=["get"], content_negotiation_class=FormatIsTheExportFormat)
    def export(self, request):
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise ValidationError({"format": ["must be csv or jsonl"]})
        rows = self.filter_queryset(self.get_queryset()).order_by("created_at", "id")
        stamp = f"{timezone.now():%Y%m%d-%H%M%S}"
        if fmt == "jsonl":
            chain.seal()
            response = StreamingHttpResponse(_jsonl(rows), content_type="application/jsonl; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.jsonl"'
            return response
        writer = csv.writer(_Echo())
        columns = ["id", "time", "actor", "via", "action", "target_type", "target_id", "target", "team", "message", "request_id",
                   "client_request_id", "before", "after", "content_hash"]

        def lines():
            yield writer.writerow(columns)
            for e in rows.iterator(chunk_size=1000):
                yield writer.writerow([_csv_cell(v) for v in (
                    e.pk, e.created_at.isoformat(), e.actor_name, e.via, e.action, e.target_type, e.target_id, e.target_repr,
                    e.team.slug if e.team_id else "", e.message, e.request_id, e.client_request_id,
                    json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                    json.dumps(e.after, sort_keys=True) if e.after is not None else "", e.content_hash)])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


def _jsonl(rows):
    checkpoint = AuditCheckpoint.objects.order_by("-through_seq").first()
    if checkpoint is not None:
        yield json.dumps({"checkpoint": {"through_seq": checkpoint.through_seq, "chain_hash": checkpoint.chain_hash}}) + "\n"
    batch: list[AuditEvent] = []

    def flush():
        seals = {s.event_id: s for s in AuditSeal.objects.filter(event_id__in=[e.pk for e in batch])}
        for e in batch:
            s = seals.get(e.pk)
            row = {"id": e.pk, **{name: getattr(e, name) for name in chain.CONTENT_FIELDS}, "content_hash": e.content_hash,
                   "team": e.team.slug if e.team_id else None,
                   "seal": {"seq": s.seq, "content_hash": s.content_hash, "prev_hash": s.prev_hash, "chain_hash": s.chain_hash}
                   if s else None}
            row["created_at"] = e.created_at.isoformat()
            row["action"] = str(e.action)
            yield json.dumps(row, ensure_ascii=False) + "\n"

    for event in rows.iterator(chunk_size=1000):
        batch.append(event)
        if len(batch) == 1000:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
