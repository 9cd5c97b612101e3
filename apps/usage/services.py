"""Usage sync, roll-up and retention.

``sync_cluster`` reads every portal-managed ResourceQuota of a cluster with
one label-selected list (paginated with ``limit``/``continue``), never one
call per namespace, and records what it saw: the namespace's current figures
(``Namespace.quota_used``), a raw sample, and the team's summed usage for the
hour. A cluster that cannot be read is marked failing (stale since …); its
last figures stay as they were, never zero. ``rollup`` turns finished hours
of raw samples into hourly max/mean rows; ``prune`` drops what is older than
the retention settings.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from apps.clusters import kube
from apps.core import quantities
from apps.core.errors import ClusterError
from apps.namespaces.manifests import MANAGED_BY, MANAGED_BY_LABEL, QUOTA_NAME
from apps.namespaces.models import Namespace
from apps.usage.models import ClusterUsageState, TeamUsageHourly, UsageHourly, UsageSample

log = logging.getLogger(__name__)
BATCH = 2000
NOT_LIVE = (Namespace.Phase.TERMINATING, Namespace.Phase.DELETED)


@dataclass
class SyncResult:
    cluster: str
    ok: bool
    quotas: int = 0
    list_calls: int = 0
    error: str = ""


def numbers(values: dict) -> dict[str, float]:
    """Quantities as numbers in base units; unparsable values left out."""
    out = {}
    for resource, raw in (values or {}).items():
        try:
            out[resource] = float(quantities.parse(raw))
        except (TypeError, ValueError):
            continue
    return out


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _record_failure(cluster, message: str, now: datetime) -> None:
    state, _ = ClusterUsageState.objects.get_or_create(cluster=cluster)
    state.failing_since = state.failing_since or now
    state.last_error = message[:2000]
    state.save(update_fields=["failing_since", "last_error"])


def sync_cluster(cluster, now: datetime | None = None) -> SyncResult:
    """One usage sync of ``cluster``: one list of its portal-managed ResourceQuotas, then batched writes."""
    now = now or timezone.now()
    calls: list[str] = []
    try:
        quotas = list(kube.list_pages(cluster, "/api/v1/resourcequotas", action="list resourcequotas",
                                      label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}", calls=calls))
    except ClusterError as exc:
        _record_failure(cluster, str(exc), now)
        log.warning("usage sync of %s failed: %s", cluster.name, exc)
        return SyncResult(cluster.name, ok=False, list_calls=len(calls), error=str(exc))
    return record_quotas(cluster, quotas, list_calls=len(calls), now=now)


def observed_recently(cluster_id: int, now: datetime | None = None) -> bool:
    """Usage of the cluster was recorded less than half a sync interval ago (by the drift pass's snapshot)."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.USAGE_SYNC_INTERVAL_SECONDS / 2)
    return ClusterUsageState.objects.filter(cluster_id=cluster_id, last_success_at__gte=since).exists()


def record_quotas(cluster, quotas: list[dict], *, list_calls: int = 0, now: datetime | None = None) -> SyncResult:
    """Record the usage the listed portal-managed ResourceQuotas of ``cluster`` carry (samples, team hourly sums).

    Called by the usage sync's own list, and with the drift pass's snapshot
    (``apps.namespaces.signals.quotas_listed``), so the two do not each walk the fleet.
    """
    now = now or timezone.now()
    quotas = [q for q in quotas if (q.get("metadata") or {}).get("name") == QUOTA_NAME]
    by_name = {q["metadata"]["namespace"]: q.get("status") or {} for q in quotas}
    rows = list(Namespace.objects.filter(cluster=cluster, name__in=list(by_name)).exclude(phase__in=NOT_LIVE)
                .only("pk", "name", "team_id", "quota_used", "quota_observed_at"))
    samples, team_used, team_hard, team_count = [], defaultdict(lambda: defaultdict(float)), defaultdict(lambda: defaultdict(float)), defaultdict(int)
    for row in rows:
        status = by_name[row.name]
        used_raw = dict(status.get("used") or {})
        used, hard = numbers(used_raw), numbers(status.get("hard") or {})
        row.quota_used, row.quota_observed_at = used_raw, now
        samples.append(UsageSample(namespace_id=row.pk, taken_at=now, used=used, hard=hard))
        team_count[row.team_id] += 1
        for resource, value in used.items():
            team_used[row.team_id][resource] += value
        for resource, value in hard.items():
            team_hard[row.team_id][resource] += value
    hour = _hour(now)
    with transaction.atomic():
        Namespace.objects.bulk_update(rows, ["quota_used", "quota_observed_at"], batch_size=BATCH)
        UsageSample.objects.bulk_create(samples, batch_size=BATCH)
        existing = {r.team_id: r for r in TeamUsageHourly.objects.filter(cluster=cluster, hour=hour)}
        new, changed = [], []
        for team_id in team_count:
            used = team_used.get(team_id, {})
            row = existing.get(team_id)
            if row is None:
                new.append(TeamUsageHourly(team_id=team_id, cluster=cluster, hour=hour, used=dict(used),
                                           hard=dict(team_hard[team_id]), namespaces=team_count[team_id]))
                continue
            for resource, value in used.items():  # the highest sum seen in the hour
                row.used[resource] = max(row.used.get(resource, 0.0), value)
            row.hard, row.namespaces = dict(team_hard[team_id]), team_count[team_id]
            changed.append(row)
        TeamUsageHourly.objects.bulk_create(new, batch_size=BATCH)
        TeamUsageHourly.objects.bulk_update(changed, ["used", "hard", "namespaces"], batch_size=BATCH)
        ClusterUsageState.objects.update_or_create(cluster=cluster, defaults={
            "last_success_at": now, "failing_since": None, "last_error": "", "quotas_seen": len(rows), "list_calls": list_calls})
    return SyncResult(cluster.name, ok=True, quotas=len(rows), list_calls=list_calls)


def rollup(now: datetime | None = None) -> int:
    """Hourly max/mean rows for every finished hour of raw samples not rolled up yet; returns the rows written."""
    now = now or timezone.now()
    current = _hour(now)
    done = UsageHourly.objects.aggregate(last=Max("hour"))["last"]
    start = done + timedelta(hours=1) if done else UsageSample.objects.aggregate(first=Min("taken_at"))["first"]
    if start is None:
        return 0
    written = 0
    hour = _hour(start)
    while hour < current:
        buckets: dict[int, list[UsageSample]] = defaultdict(list)
        for sample in UsageSample.objects.filter(taken_at__gte=hour, taken_at__lt=hour + timedelta(hours=1)).iterator(chunk_size=BATCH):
            buckets[sample.namespace_id].append(sample)
        rows = []
        for namespace_id, group in buckets.items():
            resources = {r for s in group for r in s.used}
            rows.append(UsageHourly(
                namespace_id=namespace_id, hour=hour, samples=len(group), hard=group[-1].hard,
                max={r: max(s.used.get(r, 0.0) for s in group) for r in resources},
                mean={r: sum(s.used.get(r, 0.0) for s in group) / len(group) for r in resources}))
        UsageHourly.objects.bulk_create(rows, batch_size=BATCH, update_conflicts=True, unique_fields=["namespace", "hour"],
                                        update_fields=["max", "mean", "hard", "samples"])
        written += len(rows)
        hour += timedelta(hours=1)
    return written


def prune(now: datetime | None = None) -> dict[str, int]:
    """Drop raw samples past ``USAGE_RAW_RETENTION_HOURS`` and roll-ups past ``USAGE_HOURLY_RETENTION_DAYS``."""
    now = now or timezone.now()
    raw_cutoff = now - timedelta(hours=settings.USAGE_RAW_RETENTION_HOURS)
    hourly_cutoff = now - timedelta(days=settings.USAGE_HOURLY_RETENTION_DAYS)
    # Roll up first: a raw sample is only dropped once its hour is kept.
    rollup(now)
    return {
        "samples": UsageSample.objects.filter(taken_at__lt=raw_cutoff).delete()[0],
        "hourly": UsageHourly.objects.filter(hour__lt=hourly_cutoff).delete()[0],
        "team_hourly": TeamUsageHourly.objects.filter(hour__lt=hourly_cutoff).delete()[0],
    }
