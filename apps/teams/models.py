from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models

from apps.core import quantities


class Team(models.Model):
    slug = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=100)
    contact = models.CharField(max_length=200, blank=True, help_text="Email or chat channel of the team")
    # Team budget: resource -> quantity, summed over all the team's namespaces.
    budget = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug

    def clean(self):
        # The budget is set in the admin as raw JSON; its values are compared
        # with requested quotas as quantities, so they must be ones Kubernetes
        # accepts (a "NaN" budget would silently drop out of the comparison).
        if not isinstance(self.budget, dict):
            raise ValidationError({"budget": 'must be an object of resource name to quantity, e.g. {"requests.cpu": "20"}'})
        problems = []
        for resource, value in self.budget.items():
            try:
                if quantities.parse(value) <= 0:
                    problems.append(f"{resource}: must be greater than zero")
            except quantities.QuantityError as exc:
                problems.append(f"{resource}: {exc}")
        if problems:
            raise ValidationError({"budget": problems})


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"
