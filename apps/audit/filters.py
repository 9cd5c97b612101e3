"""The one FilterSet for the audit history (page, CSV export and any API)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from apps.audit.models import AuditEvent
from apps.core.context import VIA_CHOICES


class AuditEventFilterSet(django_filters.FilterSet):
    """Filter audit rows by actor, action, team, target and date range."""

    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact", label="Actor")
    action = django_filters.CharFilter(field_name="action", lookup_expr="istartswith", label="Action",
                                       help_text='exact action or a prefix, e.g. "request." or "namespace.create"')
    team = django_filters.CharFilter(field_name="team__slug", label="Team")
    target = django_filters.CharFilter(method="filter_target", label="Target",
                                       help_text="part of the target's name or type, or type:id e.g. namespaces.namespace:12")
    via = django_filters.ChoiceFilter(choices=VIA_CHOICES, label="Via")
    request_id = django_filters.CharFilter(field_name="request_id", label="Request id")
    client_request_id = django_filters.CharFilter(field_name="client_request_id", label="Client request id",
                                                  help_text="the X-Request-ID the client sent (not verified)")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="Until")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "team", "target", "via", "request_id", "client_request_id", "since", "until"]

    def filter_target(self, queryset, name, value):
        """``type:id`` selects one object's history; anything else searches names and types."""
        target_type, sep, target_id = value.partition(":")
        if sep and target_id:
            return queryset.filter(target_type=target_type.strip().lower(), target_id=target_id.strip())
        return queryset.filter(Q(target_repr__icontains=value) | Q(target_type__icontains=value))
