"""Quota usage over time: what each ResourceQuota's ``status.used`` said, kept bounded.

Raw samples (one row per namespace per sync) live ``USAGE_RAW_RETENTION_HOURS``;
hourly roll-ups (max and mean per resource) live ``USAGE_HOURLY_RETENTION_DAYS``.
Team totals per cluster are rolled up at sync time, so a team's history is
read from a few hundred rows whatever the number of its namespaces. Values
are numbers in base units (cores, bytes, counts).
"""

from __future__ import annotations

from django.db import models


class UsageSample(models.Model):
    namespace = models.ForeignKey("namespaces.Namespace", on_delete=models.CASCADE, related_name="usage_samples")
    taken_at = models.DateTimeField()
    used = models.JSONField(default=dict)
    hard = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["namespace", "taken_at"]), models.Index(fields=["taken_at"])]


class UsageHourly(models.Model):
    """One namespace's usage in one hour: per resource the highest and the mean sample."""

    namespace = models.ForeignKey("namespaces.Namespace", on_delete=models.CASCADE, related_name="usage_hours")
    hour = models.DateTimeField()
    max = models.JSONField(default=dict)
    mean = models.JSONField(default=dict)
    hard = models.JSONField(default=dict)
    samples = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "hour"], name="usage_hourly_unique")]
        indexes = [models.Index(fields=["hour"])]


class TeamUsageHourly(models.Model):
    """A team's namespaces on one cluster, summed, per hour (highest sum seen in the hour)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="usage_hours")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="team_usage_hours")
    hour = models.DateTimeField()
    used = models.JSONField(default=dict)
    hard = models.JSONField(default=dict)
    namespaces = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "cluster", "hour"], name="team_usage_hourly_unique")]


class ClusterUsageState(models.Model):
    """Per cluster: the last successful usage sync and, while it fails, since when (shown as stale, never as zero)."""

    cluster = models.OneToOneField("clusters.Cluster", on_delete=models.CASCADE, related_name="usage_state")
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    quotas_seen = models.PositiveIntegerField(default=0)
    list_calls = models.PositiveIntegerField(default=0, help_text="Requests the last sync made (one per page)")
