"""Who sees which violations, how fresh they are, and the figures the pages show."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.teams.models import Membership
from apps.violations.ingest import checked_key
from apps.violations.models import Constraint, IngestState, Violation


def violations_visible_to(user) -> QuerySet[Violation]:
    """Admins and auditors: all; everyone else: their teams' (violations in namespaces the portal manages)."""
    qs = Violation.objects.select_related("cluster", "team", "namespace")
    if user.can_audit:
        return qs
    return qs.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))


def freshness(cluster_ids) -> dict[int, dict]:
    """Per cluster: when the policy engines were last read successfully, and since when reading fails (stale)."""
    ids = list(set(cluster_ids))
    cached = cache.get_many([checked_key(pk) for pk in ids])
    states = {s.cluster_id: s for s in IngestState.objects.filter(cluster_id__in=ids)}
    out = {}
    for pk in ids:
        state = states.get(pk)
        checked = cached.get(checked_key(pk))
        checked_at = parse_datetime(checked) if checked else (state.last_success_at if state else None)
        out[pk] = {"checked_at": checked_at, "failing_since": state.failing_since if state else None,
                   "error": state.last_error if state else "", "never": state is None and checked_at is None}
    return out


def truncated_constraints(cluster_ids) -> list[Constraint]:
    """Constraints whose audit found more violations than it listed (Gatekeeper's --constraint-violations-limit)."""
    return list(Constraint.objects.filter(cluster_id__in=list(set(cluster_ids)),
                                          total_violations__gt=F("listed_violations")).select_related("cluster"))


def open_summary(qs: QuerySet[Violation]) -> list[dict]:
    """Open violations grouped by cluster and policy, most first (one query)."""
    return list(qs.filter(resolved_at__isnull=True).values("cluster__name", "policy", "source", "action")
                .annotate(count=Count("pk")).order_by("-count", "cluster__name", "policy")[:200])


def open_per_day(qs: QuerySet[Violation], days: int = 30, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """How many violations were open at the end of each of the last ``days`` days (one query)."""
    now = now or timezone.now()
    ends = [now - timedelta(days=days - 1 - i) for i in range(days)]
    aggregates = {f"d{i}": Count("pk", filter=Q(first_seen__lte=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gt=end)))
                  for i, end in enumerate(ends)}
    counts = qs.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=ends[0])).aggregate(**aggregates)
    return [(end, counts[f"d{i}"]) for i, end in enumerate(ends)]


def policy_descriptions() -> dict[str, str]:
    """``Kind/name`` of each Gatekeeper constraint -> its template's description, where it has one (one query)."""
    return {f"{kind}/{name}": text for kind, name, text in Constraint.objects.exclude(description="").values_list("kind", "name", "description")}
