"""Notifications: what the portal told each person (the inbox) and which kinds they do not want by email."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    """What a notification is about; each person can turn email off per kind."""

    REQUEST_SUBMITTED = "request_submitted", "A request waits for your team's decision"
    REQUEST_DECIDED = "request_decided", "Your request was decided"
    NAMESPACE_READY = "namespace_ready", "Your namespace is ready"
    NAMESPACE_FAILED = "namespace_failed", "Your namespace could not be applied"
    NAMESPACE_EXPIRING = "namespace_expiring", "A namespace expires soon"
    CERTIFICATE_EXPIRING = "certificate_expiring", "Your kubeconfig certificate expires soon"


class Notification(models.Model):
    """One message to one person, shown in their inbox (and emailed unless they opted out of its kind).

    ``key`` names the event it tells of (``request:12:decided``); one row per
    person and event, so delivering the same event again (a redelivered
    task, two overlapping scans) adds nothing. ``emailed_at`` is claimed
    before the mail goes out: a redelivery never mails twice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # Path inside the portal (the email makes it absolute with PORTAL_URL).
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_unique_event_per_user")]
        indexes = [
            models.Index(fields=["user", "-id"], name="notification_user_newest"),
            # The header badge: a person's unread count, read on every page.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_user_unread"),
        ]

    def __str__(self):
        return f"{self.user} · {self.title}"


class EmailOptOut(models.Model):
    """A person does not want email for one kind (the inbox still shows it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs")
    kind = models.CharField(max_length=32, choices=Kind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="emailoptout_unique_kind_per_user")]
