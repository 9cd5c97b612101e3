"""Django admin for team budgets and auto-approval rules; every change audited."""

from django.contrib import admin

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.quotas.models import ApprovalRule, TeamBudget


@admin.register(TeamBudget)
class TeamBudgetAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_action_prefix = "team_budget"
    list_display = ("team", "cluster", "hard", "namespaces", "updated_at")
    list_filter = ("cluster",)
    search_fields = ("team__slug",)
    autocomplete_fields = ("team",)


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_action_prefix = "approval_rule"
    list_display = ("order", "name", "enabled", "kind", "cluster", "team", "max_tier", "max_increase_percent", "max_ttl_hours", "window_days")
    list_display_links = ("name",)
    list_editable = ("enabled",)
    ordering = ("order", "pk")
