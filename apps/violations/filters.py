"""The one FilterSet for violation lists: the admin page and ``GET /api/v1/violations/``."""

from __future__ import annotations

import django_filters

from apps.violations.models import Source, Violation


class ViolationFilterSet(django_filters.FilterSet):
    """Narrows what the caller may see (``violations_visible_to``); never widens it."""

    cluster = django_filters.CharFilter(field_name="cluster__name", label="Cluster")
    team = django_filters.CharFilter(field_name="team__slug", label="Team")
    namespace = django_filters.CharFilter(field_name="object_namespace", label="Namespace")
    policy = django_filters.CharFilter(field_name="policy", lookup_expr="icontains", label="Policy")
    source = django_filters.ChoiceFilter(choices=Source.choices, label="Source")
    state = django_filters.ChoiceFilter(choices=[("open", "Open"), ("resolved", "Resolved")], method="filter_state",
                                        label="State", empty_label="Open and resolved")

    class Meta:
        model = Violation
        fields = ["cluster", "team", "namespace", "policy", "source", "state"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=(value == "open"))
