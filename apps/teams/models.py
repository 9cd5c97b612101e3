from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models

from apps.core import quantities


class Team(models.Model):
    slug = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=100)
    description = models.TextField(max_length=2000, blank=True, help_text="What the team does, for the people asking to join")
    contact = models.CharField(max_length=200, blank=True, help_text="Email or chat channel of the team")
    # Team budget: resource -> quantity, summed over all the team's namespaces.
    budget = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # An archived team keeps its history (requests, audit, memberships) but
    # takes no new requests; only a team without live namespaces is archived.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def clean(self):
        # Budget values are compared with requested quotas as quantities, so
        # they must be ones Kubernetes accepts, for resources a quota can set
        # (a "NaN" or "request.cpu" budget would silently drop out of the comparison).
        if not isinstance(self.budget, dict):
            raise ValidationError({"budget": 'must be an object of resource name to quantity, e.g. {"requests.cpu": "20"}'})
        problems = []
        for resource, value in self.budget.items():
            if resource not in quantities.QUOTA_RESOURCES:
                problems.append(f"{resource}: unknown resource; allowed: {', '.join(quantities.QUOTA_RESOURCES)}")
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                problems.append(f'{resource}: must be a quantity written as a string, e.g. "20" or "64Gi"')
                continue
            try:
                amount = quantities.parse(value)
            except quantities.QuantityError as exc:
                problems.append(f"{resource}: {exc}")
                continue
            if amount <= 0:
                problems.append(f"{resource}: must be greater than zero")
            elif resource in quantities.COUNT_RESOURCES and amount != amount.to_integral_value():
                problems.append(f"{resource}: must be a whole number")
        if problems:
            raise ValidationError({"budget": problems})


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    class Source(models.TextChoices):
        PORTAL = "portal", "Granted in the portal"
        IDP = "idp", "From the identity provider's groups"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # IdP-granted memberships follow the groups claim at each sign-in (removed when the group goes);
    # the portal's own (join requests, managers) are never touched by it.
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PORTAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"
