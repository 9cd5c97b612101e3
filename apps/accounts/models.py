from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A portal user. Team roles live on Membership; platform roles live here."""

    class PlatformRole(models.TextChoices):
        NONE = "", "None"
        ADMIN = "admin", "Platform admin"
        AUDITOR = "auditor", "Auditor"

    platform_role = models.CharField(max_length=16, choices=PlatformRole.choices, blank=True, default="")
    # The ``sub`` claim of the OpenID provider this person signs in with (apps.accounts.oidc); empty for local accounts.
    oidc_subject = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and (self.is_superuser or self.platform_role == self.PlatformRole.ADMIN)

    @property
    def can_audit(self) -> bool:
        """Admins and auditors read audit history and violations everywhere."""
        return self.is_platform_admin or (self.is_active and self.platform_role == self.PlatformRole.AUDITOR)

    @property
    def cluster_identity(self) -> str:
        """The user's name on clusters: certificate CN and RoleBinding subject."""
        return f"{settings.CLUSTER_USER_PREFIX}{self.username}"


class ApiToken(models.Model):
    """An API token. Only its SHA-256 is stored; the token is shown once when issued.

    A token is never deleted by the portal: revoking stamps ``revoked_at`` so a
    client still sending it is told it was revoked, and the audit log keeps
    pointing at a row.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… {self.name} ({self.user})" if self.name else f"{self.prefix}… ({self.user})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
