from django.conf import settings
from django.db import models
from django.db.models import Q


class Request(models.Model):
    """A change someone asked for that needs a decision: one workflow for every kind.

    State machine: submitted -> approved | rejected | cancelled; approved ->
    applying -> done | failed. ``payload`` holds the kind-specific fields.
    """

    class Kind(models.TextChoices):
        NAMESPACE = "namespace", "Namespace"
        MEMBERSHIP = "membership", "Join team"
        QUOTA = "quota", "Quota change"
        EXTENSION = "extension", "Extend lifetime"

    class State(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        APPLYING = "applying", "Applying"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    OPEN_STATES = (State.SUBMITTED,)
    DECIDED_STATES = (State.APPROVED, State.REJECTED, State.CANCELLED, State.APPLYING, State.DONE, State.FAILED)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.SUBMITTED, db_index=True)
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requests")
    decider = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    reason = models.TextField(blank=True, help_text="Why it was approved or rejected")
    # Set when an auto-approval rule decided instead of a person (decider stays empty).
    decided_by_rule = models.CharField(max_length=100, blank=True)
    # Namespace requests: target cluster and name (reserved while submitted).
    cluster = models.ForeignKey("clusters.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    name = models.CharField(max_length=63, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    namespace = models.ForeignKey("namespaces.Namespace", null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    idempotency_key = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Not stored: True on the request a submit returns when an earlier submit
    # with the same Idempotency-Key created it (``request_replay``).
    replayed = False

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                condition=Q(kind="namespace", state="submitted"),
                name="request_unique_pending_namespace_name",
            ),
            models.UniqueConstraint(
                fields=["requester", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="request_unique_idempotency_key",
            ),
        ]

    def __str__(self):
        # Human names (the audit log keeps this text as it was at the time).
        return f"#{self.pk} {self.get_kind_display()} {self.name or self.team.slug}"
