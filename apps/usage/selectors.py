"""Usage figures for pages and the API: current, history, team and cluster totals, and peaks for approval rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.core import quantities
from apps.namespaces.models import Namespace
from apps.usage.models import ClusterUsageState, TeamUsageHourly, UsageHourly, UsageSample
from apps.usage.services import NOT_LIVE, numbers

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def namespace_history(namespace, window: str = "24h", now: datetime | None = None) -> list[dict]:
    """Points ``{"at", "used": {resource: number}, "hard": {...}}``, oldest first: raw samples for 24h, hourly max beyond."""
    now = now or timezone.now()
    since = now - WINDOWS[window]
    if window == "24h":
        return [{"at": s.taken_at, "used": s.used, "hard": s.hard}
                for s in UsageSample.objects.filter(namespace=namespace, taken_at__gte=since).order_by("taken_at")]
    return [{"at": h.hour, "used": h.max, "hard": h.hard}
            for h in UsageHourly.objects.filter(namespace=namespace, hour__gte=since).order_by("hour")]


def peak_usage(namespace, resources: list[str], since: datetime) -> dict[str, Decimal]:
    """The highest ``status.used`` per resource seen since ``since`` (raw samples and hourly maxima); a resource never seen is absent."""
    peaks: dict[str, float] = {}
    rows = [s.used for s in UsageSample.objects.filter(namespace=namespace, taken_at__gte=since).only("used")]
    rows += [h.max for h in UsageHourly.objects.filter(namespace=namespace, hour__gte=since).only("max")]
    for used in rows:
        for resource in resources:
            if resource in used:
                peaks[resource] = max(peaks.get(resource, 0.0), used[resource])
    return {resource: Decimal(str(value)) for resource, value in peaks.items()}


def cluster_staleness(cluster_ids) -> dict[int, ClusterUsageState]:
    return {s.cluster_id: s for s in ClusterUsageState.objects.filter(cluster_id__in=list(set(cluster_ids)))}


def team_usage(team, now: datetime | None = None) -> list[dict]:
    """Per cluster: the team's summed hard and used as of the last usage sync, its budget, 7 days of hourly totals, staleness.

    Read from the team roll-up the sync writes, so it costs the same few
    queries for 5 namespaces or 5,000.
    """
    from apps.quotas.models import TeamBudget

    now = now or timezone.now()
    history = defaultdict(list)
    latest: dict[int, TeamUsageHourly] = {}
    for row in TeamUsageHourly.objects.filter(team=team, hour__gte=now - WINDOWS["7d"]).select_related("cluster").order_by("hour"):
        history[row.cluster_id].append({"at": row.hour, "used": row.used, "hard": row.hard})
        latest[row.cluster_id] = row
    budgets = {b.cluster_id: b.hard for b in TeamBudget.objects.filter(team=team, cluster_id__in=list(latest))}
    stale = cluster_staleness(latest)
    out = []
    for cluster_id, row in sorted(latest.items(), key=lambda kv: kv[1].cluster.name):
        state = stale.get(cluster_id)
        out.append({"cluster": row.cluster.name, "namespaces": row.namespaces, "hard": row.hard, "used": row.used,
                    "budget": numbers(budgets.get(cluster_id, {})), "history": history[cluster_id],
                    "synced_at": state.last_success_at if state else None,
                    "stale_since": state.failing_since if state else None})
    return out


def clusters_usage(clusters) -> list[dict]:
    """For each cluster: allocated (sum of hard over live namespaces) and used against its capacity, and its top teams.

    Two queries for all the clusters together.
    """
    clusters = list(clusters)
    totals = defaultdict(lambda: defaultdict(float))
    used = defaultdict(lambda: defaultdict(float))
    teams = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for cluster_id, team_slug, quota, in_use in (Namespace.objects.filter(cluster__in=clusters).exclude(phase__in=NOT_LIVE)
                                                 .values_list("cluster_id", "team__slug", "quota", "quota_used")):
        for resource, value in numbers(quota).items():
            totals[cluster_id][resource] += value
            teams[cluster_id][team_slug][resource] += value
        for resource, value in numbers(in_use).items():
            used[cluster_id][resource] += value
    states = cluster_staleness([c.pk for c in clusters])
    out = []
    for cluster in clusters:
        top = sorted(teams[cluster.pk].items(), key=lambda kv: (-kv[1].get("requests.cpu", 0.0), kv[0]))[:10]
        state = states.get(cluster.pk)
        out.append({"cluster": cluster.name, "allocated": dict(totals[cluster.pk]), "used": dict(used[cluster.pk]),
                    "capacity": numbers(cluster.capacity or {}),
                    "top_teams": [{"team": slug, "allocated": dict(values)} for slug, values in top],
                    "synced_at": state.last_success_at if state else None, "stale_since": state.failing_since if state else None})
    return out


def cluster_usage(cluster) -> dict:
    """One cluster's figures (``clusters_usage``)."""
    return clusters_usage([cluster])[0]


def fmt(resource: str, value: float) -> str:
    """A number of base units written as a quantity people read (2Gi, 500m)."""
    return quantities.format_quantity(Decimal(str(round(value, 6))), resource)
