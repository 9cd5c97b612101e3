"""Quota configuration: team budgets per cluster and auto-approval rules (tiers are the namespaces app's).

Both are data an admin edits (Django admin and API), not code: approval
checks the budgets under a lock on the budget row, and submission evaluates
the rules in order.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core import quantities


class TeamBudget(models.Model):
    """What a team's live namespaces on one cluster may add up to (sum of their quotas' hard values).

    Approvals lock this row before checking, so two approvals at once can
    never both spend the last of it.
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="budgets")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="budgets")
    hard = models.JSONField(default=dict, blank=True, help_text="Resource -> quantity, over the sum of the team's live namespaces")
    namespaces = models.PositiveIntegerField(null=True, blank=True, help_text="Most live namespaces; blank for no limit")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__slug", "cluster__name"]
        constraints = [models.UniqueConstraint(fields=["team", "cluster"], name="team_budget_unique_team_cluster")]

    def __str__(self):
        return f"{self.team} on {self.cluster}"

    def clean(self):
        problems = quantities.amount_errors(self.hard, tuple(quantities.QUOTA_RESOURCES))
        if problems:
            raise ValidationError({"hard": problems})


class ApprovalRule(models.Model):
    """"Approve without a manager when ...": conditions evaluated at submission, in order, first match wins.

    Every condition left empty matches anything. Utilisation is read from the
    stored usage samples (never from a cluster), so submission stays fast and
    works while a cluster is down.
    """

    class Kind(models.TextChoices):
        ANY = "", "Any kind"
        NAMESPACE = "namespace", "Namespace requests"
        QUOTA = "quota", "Quota change requests"
        EXTENSION = "extension", "Lifetime extensions"

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100, help_text="Lower runs first; the first matching rule decides")
    enabled = models.BooleanField(default=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True)
    cluster = models.ForeignKey("clusters.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    max_tier = models.ForeignKey("namespaces.QuotaTier", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 help_text="Every requested value at most this tier's")
    max_increase_percent = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10000)],
        help_text="Quota changes: every resource at most this much above its current hard value")
    min_utilisation = models.JSONField(
        default=dict, blank=True,
        help_text='Quota changes: resource -> percent, e.g. {"requests.cpu": 35, "requests.memory": 35, "requests.storage": 80}: '
                  "the peak usage over the window must be at least that share of the current hard value")
    max_ttl_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Lifetime extensions: the namespace lives at most this many hours from the request")
    window_days = models.PositiveSmallIntegerField(default=14, validators=[MinValueValidator(1), MaxValueValidator(90)])

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.min_utilisation, dict):
            raise ValidationError({"min_utilisation": ["must be an object of resource name to percent"]})
        problems = []
        for resource, percent in self.min_utilisation.items():
            if resource not in quantities.QUOTA_RESOURCES:
                problems.append(f"{resource}: unknown resource; allowed: {', '.join(quantities.QUOTA_RESOURCES)}")
            elif isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= Decimal(str(percent)) <= 100:
                problems.append(f"{resource}: must be a percentage from 0 to 100")
        if problems:
            raise ValidationError({"min_utilisation": problems})
