"""The one FilterSet for namespace lists, shared by the dashboard and the API (House style 10)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from apps.namespaces.models import Namespace


class NamespaceFilterSet(django_filters.FilterSet):
    """Filter namespaces by team slug, cluster name, phase and name.

    It narrows a queryset the caller already limited to what the user may see
    (``namespaces_visible_to``); it never widens visibility.
    """

    team = django_filters.CharFilter(field_name="team__slug", label="Team")
    cluster = django_filters.CharFilter(field_name="cluster__name", label="Cluster")
    phase = django_filters.ChoiceFilter(choices=Namespace.Phase.choices, label="Phase")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    q = django_filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = Namespace
        fields = ["team", "cluster", "phase", "name"]

    def filter_q(self, queryset, name, value):
        """Free-text search over the namespace name, its purpose and its team."""
        return queryset.filter(Q(name__icontains=value) | Q(purpose__icontains=value) | Q(team__slug__icontains=value))
