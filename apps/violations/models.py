"""Policy violations the clusters' policy engines report, as the portal last saw them.

Two sources: Gatekeeper (each constraint's audit writes ``status.violations``,
at most ``--constraint-violations-limit`` of them, 20 by default, next to the
true ``status.totalViolations``) and wg-policy PolicyReports /
ClusterPolicyReports (Kyverno and others). A violation is identified by a
fingerprint of what it is about (source, policy, rule, object, message); it
is open while the engine still reports it and resolved at the first
successful ingest that no longer does.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Source(models.TextChoices):
    GATEKEEPER = "gatekeeper", "Gatekeeper"
    POLICYREPORT = "policyreport", "Policy report"


class Violation(models.Model):
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="violations")
    source = models.CharField(max_length=16, choices=Source.choices)
    fingerprint = models.CharField(max_length=64)
    # Gatekeeper: the constraint kind/name; policy reports: the policy and its rule.
    policy = models.CharField(max_length=253)
    rule = models.CharField(max_length=253, blank=True)
    # Gatekeeper: deny | dryrun | warn (the constraint's or the entry's); policy reports: fail | error | warn.
    action = models.CharField(max_length=16)
    severity = models.CharField(max_length=16, blank=True)
    category = models.CharField(max_length=100, blank=True)
    message = models.TextField()
    object_kind = models.CharField(max_length=100, blank=True)
    object_namespace = models.CharField(max_length=63, blank=True)
    object_name = models.CharField(max_length=253, blank=True)
    # The portal's namespace and team, when the object is in a namespace the portal manages.
    namespace = models.ForeignKey("namespaces.Namespace", null=True, blank=True, on_delete=models.SET_NULL, related_name="violations")
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="violations")
    first_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One open row per violation per cluster; a resolved one may come back as a new row.
            models.UniqueConstraint(fields=["cluster", "fingerprint"], condition=Q(resolved_at__isnull=True),
                                    name="violation_unique_open_fingerprint"),
        ]
        indexes = [
            models.Index(fields=["team", "-id"], condition=Q(resolved_at__isnull=True), name="violation_open_team"),
            models.Index(fields=["namespace", "-id"], condition=Q(resolved_at__isnull=True), name="violation_open_namespace"),
            models.Index(fields=["cluster", "policy"], condition=Q(resolved_at__isnull=True), name="violation_open_policy"),
            models.Index(fields=["team", "resolved_at", "-id"], name="violation_team_state"),
        ]

    def __str__(self):
        where = f"{self.object_namespace}/{self.object_name}" if self.object_namespace else self.object_name
        return f"{self.policy} on {self.object_kind} {where}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Constraint(models.Model):
    """A Gatekeeper constraint as last ingested: how many violations its audit found and how many it listed."""

    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="constraints")
    kind = models.CharField(max_length=100)
    name = models.CharField(max_length=253)
    enforcement_action = models.CharField(max_length=16, default="deny")
    total_violations = models.PositiveIntegerField(default=0)
    listed_violations = models.PositiveIntegerField(default=0)
    audit_timestamp = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True, help_text="From the ConstraintTemplate's metadata, when it has one")

    class Meta:
        ordering = ["cluster__name", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "kind", "name"], name="constraint_unique_per_cluster")]

    def __str__(self):
        return f"{self.kind}/{self.name}"

    @property
    def policy(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def truncated(self) -> bool:
        return self.total_violations > self.listed_violations


class IngestState(models.Model):
    """Per cluster: when violations were last ingested successfully, and why the last attempt failed."""

    cluster = models.OneToOneField("clusters.Cluster", on_delete=models.CASCADE, related_name="violation_ingest")
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gatekeeper = models.BooleanField(default=False, help_text="Gatekeeper constraints were found on the cluster")
    policy_reports = models.BooleanField(default=False, help_text="wg-policy reports are served by the cluster")

    def __str__(self):
        return f"violations ingest of {self.cluster}"
