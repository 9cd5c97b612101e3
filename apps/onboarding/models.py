"""Onboarding: issued client certificates (the inventory) and the onboarding KPI.

Private keys are never stored anywhere in these models: a certificate row
holds only public facts (serial, fingerprint, subject, validity).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IssuedCertificate(models.Model):
    """One client certificate the portal had a cluster sign (one kubeconfig download).

    Kubernetes cannot revoke client certificates, so this is an inventory, not
    a revocation list: access is withdrawn by removing RoleBindings, and the
    short expiry bounds the rest.
    """

    class KeyMode(models.TextChoices):
        # The private key stayed with the user (generated in the browser or a CSR they made).
        USER = "user", "User-held key"
        # The portal generated the key and handed it over once (never stored).
        PORTAL = "portal", "Portal-generated key (handed over once)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="issued_certificates")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.PROTECT, related_name="issued_certificates")
    namespace = models.ForeignKey("namespaces.Namespace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text: the namespace row may be deleted, the kubeconfig's context still names it.
    namespace_name = models.CharField(max_length=63, blank=True)
    subject = models.CharField(max_length=255, help_text="Certificate subject as issued (RFC 4514)")
    serial = models.CharField(max_length=64, help_text="Serial number, hex")
    fingerprint_sha256 = models.CharField(max_length=95, help_text="SHA-256 of the DER certificate, colon-separated hex")
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    csr_name = models.CharField(max_length=253, help_text="Name of the CertificateSigningRequest (deleted from the cluster after issuance)")
    key_mode = models.CharField(max_length=8, choices=KeyMode.choices)
    key_algorithm = models.CharField(max_length=32, blank=True, help_text="e.g. EC P-256, RSA 2048")
    reason = models.CharField(max_length=200, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    renews = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewed_by")
    # Wall-clock seconds from CSR creation to the certificate being collected.
    issue_seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["fingerprint_sha256"], name="issuedcertificate_unique_fingerprint")]

    def __str__(self):
        return f"{self.subject} on {self.cluster.name} (serial {self.serial[:16]})"

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()


class Onboarding(models.Model):
    """The KPI of one approved join request: how long until the newcomer had working access.

    Timestamps are system observations:
    - ``approved_at``: the manager approved the join request;
    - ``access_ready_at``: the worker saw the newcomer's RoleBinding in every
      live namespace of the team (bindings confirmed on the clusters);
    - ``kubeconfig_started_at`` / ``first_kubeconfig_at``: the first kubeconfig
      issuance after approval started / returned a signed certificate.

    ``seconds_from_approval`` is system time only: if the user waited before
    clicking "download", that idle time is subtracted. ``seconds_from_submission``
    is wall-clock time including every human wait (the book's KPI).
    """

    request = models.OneToOneField("approvals.Request", on_delete=models.CASCADE, related_name="onboarding")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboardings")
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="onboardings")
    submitted_at = models.DateTimeField()
    approved_at = models.DateTimeField()
    access_ready_at = models.DateTimeField(null=True, blank=True)
    access_checks = models.PositiveIntegerField(default=0)
    kubeconfig_started_at = models.DateTimeField(null=True, blank=True)
    first_kubeconfig_at = models.DateTimeField(null=True, blank=True)
    first_certificate = models.ForeignKey(IssuedCertificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seconds_from_approval = models.FloatField(null=True, blank=True)
    seconds_from_submission = models.FloatField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-approved_at", "-id"]

    def __str__(self):
        return f"onboarding of {self.user.get_username()} into {self.team.slug}"
