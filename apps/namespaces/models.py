import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.clusters.models import PodSecurityLevel
from apps.core import quantities
from apps.namespaces.validators import validate_namespace_name


class Namespace(models.Model):
    """Desired state of one namespace on one cluster; the worker reconciles it.

    The row stays after deletion (phase Deleted) for history; the name can
    then be reused, hence the conditional unique constraint.
    """

    class Phase(models.TextChoices):
        PENDING = "Pending", "Pending"
        PROVISIONING = "Provisioning", "Provisioning"
        READY = "Ready", "Ready"
        FAILED = "Failed", "Failed"
        TERMINATING = "Terminating", "Terminating"
        DELETED = "Deleted", "Deleted"

    # The portal's own id for this row: written into the Namespace's ownership
    # annotation, so a namespace someone else made (or copied our label onto)
    # is never mistaken for one of ours.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.PROTECT, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[validate_namespace_name])
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="namespaces")
    purpose = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="owned_namespaces")
    expires_at = models.DateTimeField(null=True, blank=True)
    protected = models.BooleanField(default=False, help_text="Never reaped by the TTL reaper")
    quota = models.JSONField(default=dict, help_text="ResourceQuota hard values: resource -> quantity")
    # The tier's LimitRange defaults per container ({"default": {...}, "defaultRequest": {...}}),
    # copied when the namespace got that tier; empty: derived from the quota.
    limit_defaults = models.JSONField(default=dict, blank=True)
    pod_security_level = models.CharField(max_length=16, choices=PodSecurityLevel.choices, default=PodSecurityLevel.RESTRICTED)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.PENDING, db_index=True)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Hash of the last bundle applied successfully; equal hash => nothing to write.
    observed_hash = models.CharField(max_length=64, blank=True)
    # An attempt that failed part-way: {"hash": <bundle hash>, "done": [object keys written]}. The retry of
    # the same bundle writes only the rest (one successful write per object, faults or not).
    partial_apply = models.JSONField(default=dict, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker holds the row (claim), cleared when it lets go.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Who holds the claim: the Celery task id. A redelivered task (its worker
    # died mid-way; acks_late) carries the same id and may take over at once.
    claimed_by = models.CharField(max_length=64, blank=True)
    # ResourceQuota status.used as last read from the cluster, and when.
    quota_used = models.JSONField(default=dict, blank=True)
    quota_observed_at = models.DateTimeField(null=True, blank=True)
    # Last time the resync found the cluster differing from the bundle (and repaired it).
    drift_repaired_at = models.DateTimeField(null=True, blank=True)
    # metadata.uid of the Namespace object on the cluster: set when the portal
    # created it (or a platform admin adopted it). A namespace of the same name
    # with another uid was deleted and re-created by someone else: not ours.
    cluster_uid = models.CharField(max_length=64, blank=True)
    # Adopted by a platform admin (it existed before the portal managed it):
    # the one case where the portal writes to a namespace it did not create.
    adopted = models.BooleanField(default=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], condition=~Q(phase="Deleted"), name="namespace_unique_live_name_per_cluster"),
        ]
        indexes = [
            # A team's newest namespaces (team page) and the clusters it is on, without reading all its rows.
            models.Index(fields=["team", "-id"], name="namespace_team_newest"),
            models.Index(fields=["team", "cluster"], name="namespace_team_cluster"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_live(self) -> bool:
        return self.phase not in (self.Phase.TERMINATING, self.Phase.DELETED)


CONTAINER_RESOURCES = ("cpu", "memory")


class QuotaTier(models.Model):
    """A named quota preset: ResourceQuota hard values plus the LimitRange defaults that go with them.

    A namespace keeps a copy of what it was given (editing a tier later does
    not silently resize existing namespaces; a quota change request does).
    """

    name = models.SlugField(max_length=32, unique=True, help_text="What clients send as tier, e.g. small")
    display_name = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    hard = models.JSONField(help_text='ResourceQuota hard values, e.g. {"requests.cpu": "2", "limits.memory": "8Gi"}')
    limit_default = models.JSONField(default=dict, blank=True,
                                     help_text='LimitRange default limits per container, e.g. {"cpu": "500m", "memory": "512Mi"}')
    limit_default_request = models.JSONField(default=dict, blank=True,
                                             help_text='LimitRange default requests per container, e.g. {"cpu": "100m"}')
    # Tiers are ordered small to large; approval rules say "at most tier X".
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        errors: dict[str, list[str]] = {}
        hard_problems = quantities.quota_errors(self.hard) if isinstance(self.hard, dict) and self.hard else {"hard": ["must set at least one resource"]}
        if hard_problems:
            errors["hard"] = [f"{resource}: {msg}" for resource, msgs in hard_problems.items() for msg in msgs]
        for field in ("limit_default", "limit_default_request"):
            problems = quantities.amount_errors(getattr(self, field), CONTAINER_RESOURCES)
            if problems:
                errors[field] = problems
        if not errors:
            errors.update(self._limit_range_problems())
        if errors:
            raise ValidationError(errors)

    def _limit_range_problems(self) -> dict[str, list[str]]:
        """The API server's LimitRange rules (defaultRequest <= default), and one defaulted container fits the quota."""
        problems: dict[str, list[str]] = {}
        for resource in CONTAINER_RESOURCES:
            default = self.limit_default.get(resource)
            request = self.limit_default_request.get(resource)
            if default is not None and request is not None and quantities.parse(request) > quantities.parse(default):
                problems.setdefault("limit_default_request", []).append(
                    f"{resource}: the default request {request} is above the default limit {default}")
            for values, field, key in ((self.limit_default, "limit_default", f"limits.{resource}"),
                                       (self.limit_default_request, "limit_default_request", f"requests.{resource}")):
                value, cap = values.get(resource), self.hard.get(key)
                if value is not None and cap is not None and quantities.parse(value) > quantities.parse(cap):
                    problems.setdefault(field, []).append(f"{resource}: {value} is above the tier's {key} ({cap})")
        return problems
