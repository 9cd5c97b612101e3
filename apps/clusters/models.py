from django.core.exceptions import ValidationError
from django.db import models

from apps.clusters import crypto
from apps.core import quantities


class PodSecurityLevel(models.TextChoices):
    RESTRICTED = "restricted", "restricted"
    BASELINE = "baseline", "baseline"
    PRIVILEGED = "privileged", "privileged"


class Cluster(models.Model):
    """A Kubernetes cluster the portal manages, with credentials encrypted at rest."""

    class AuthKind(models.TextChoices):
        TOKEN = "token", "ServiceAccount token"
        CLIENT_CERTIFICATE = "client_certificate", "Client certificate"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        HEALTHY = "healthy", "Healthy"
        UNREACHABLE = "unreachable", "Unreachable"

    name = models.SlugField(max_length=63, unique=True)
    api_server_url = models.URLField(max_length=255)
    ca_bundle = models.TextField(help_text="PEM of the CA that signs the API server's certificate (and client certificates)")
    auth_kind = models.CharField(max_length=32, choices=AuthKind.choices)
    credentials_encrypted = models.TextField(editable=False)
    default_pod_security = models.CharField(max_length=16, choices=PodSecurityLevel.choices, default=PodSecurityLevel.RESTRICTED)
    labels = models.JSONField(default=dict, blank=True, help_text='e.g. {"env": "prod", "region": "eu-west-1"}')
    capacity = models.JSONField(default=dict, blank=True,
                                help_text='What the cluster can give teams, resource -> quantity, e.g. {"requests.cpu": "64", '
                                          '"requests.memory": "256Gi"}; compared with the sum of namespace quotas')
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_message = models.TextField(blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    server_version = models.CharField(max_length=64, blank=True)
    # The namespace of the ServiceAccount the portal signs in as on this
    # cluster (from a SelfSubjectReview): never handed to a team, since its
    # members could mint the portal's own tokens there.
    portal_namespace = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.capacity, dict):
            raise ValidationError({"capacity": 'must be an object of resource name to quantity, e.g. {"requests.cpu": "64"}'})
        problems = quantities.amount_errors(self.capacity, tuple(quantities.QUOTA_RESOURCES))
        if problems:
            raise ValidationError({"capacity": problems})

    def set_credentials(self, credentials: dict) -> None:
        """``{"token": ...}`` or ``{"client_certificate": pem, "client_key": pem}``."""
        self.credentials_encrypted = crypto.encrypt(credentials)

    def get_credentials(self) -> dict:
        return crypto.decrypt(self.credentials_encrypted)
