"""The violations page for platform admins and auditors: grouped counts, a trend, filters and the list."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_GET

from apps.clusters.models import Cluster
from apps.core.charts import bar_chart
from apps.core.htmx import render_page
from apps.violations.filters import ViolationFilterSet
from apps.violations.selectors import (
    freshness,
    open_per_day,
    open_summary,
    policy_descriptions,
    truncated_constraints,
    violations_visible_to,
)

PAGE_SIZE = 50


@login_required
@require_GET
def violation_list(request):
    """Admins and auditors: every cluster's violations (teams see theirs on their team and namespace pages)."""
    if not request.user.can_audit:
        raise PermissionDenied("the violations overview is for platform admins and auditors; your team's are on its team page")
    visible = violations_visible_to(request.user)
    filterset = ViolationFilterSet(request.GET, queryset=visible)
    rows = filterset.qs if filterset.is_valid() else visible.none()
    # Keyset pagination: ?after=<id> (newest first); no count over the whole table.
    after = request.GET.get("after", "")
    if after.isdigit():
        rows = rows.filter(pk__lt=int(after))
    page = list(rows.order_by("-id")[:PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    clusters = list(Cluster.objects.order_by("name"))
    trend = open_per_day(filterset.qs if filterset.is_valid() else visible.none())
    context = {
        "filterset": filterset, "page": page, "next_after": page[-1].pk if more else None,
        "summary": open_summary(filterset.qs) if filterset.is_valid() else [],
        "descriptions": policy_descriptions(),
        "trend": bar_chart([(end.strftime("%m-%d"), count) for end, count in trend]),
        "freshness": [(c, freshness([c.pk])[c.pk]) for c in clusters],
        "truncated": truncated_constraints([c.pk for c in clusters]),
    }
    return render_page(request, "violations/list.html", context)
