"""The one FilterSet for request lists (the request workflow API of every kind)."""

from __future__ import annotations

import django_filters

from apps.approvals.models import Request


class RequestFilterSet(django_filters.FilterSet):
    """Filters of a request list: ``?state=submitted&team=payments&cluster=prod-eu``.

    Team and cluster are given by slug/name like everywhere else in the API.
    Filtering only narrows the user's visible requests, so naming another
    team's slug yields an empty list, never its requests.
    """

    state = django_filters.MultipleChoiceFilter(choices=Request.State.choices,
                                                help_text="Request state; repeat to match any of several")
    team = django_filters.CharFilter(field_name="team__slug", help_text="Team slug")
    cluster = django_filters.CharFilter(field_name="cluster__name", help_text="Cluster name")
    requester = django_filters.CharFilter(field_name="requester__username", help_text="Username of the requester")
    kind = django_filters.MultipleChoiceFilter(choices=Request.Kind.choices,
                                               help_text="Request kind (on /api/v1/requests/); repeat to match any of several")

    class Meta:
        model = Request
        fields = ["state", "team", "cluster", "requester", "kind"]
