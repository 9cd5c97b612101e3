"""Serializers of the quotas API: quota change requests, team budgets, approval rules.

Input serializers check JSON types only; the rules (quantities, budgets,
one open change per namespace) are the services'.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.approvals.viewsets import RequestSerializer
from apps.core.api.serializers import QuotaField, StrictCharField, StrictInputSerializer, StrictIntegerField
from apps.quotas.models import ApprovalRule


class QuotaRequestSerializer(RequestSerializer):
    """A quota change request as the API shows it."""

    namespace = serializers.IntegerField(source="namespace_id", read_only=True, help_text="Id of the namespace")
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    name = serializers.CharField(read_only=True, help_text="Namespace name")
    quota = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
    request_reason = serializers.SerializerMethodField()
    decided_by_rule = serializers.CharField(read_only=True, help_text="The auto-approval rule that approved it, if one did")

    @extend_schema_field(QuotaField)
    def get_quota(self, obj) -> dict:
        return obj.payload.get("quota", {})

    @extend_schema_field(QuotaField)
    def get_previous(self, obj) -> dict:
        return obj.payload.get("previous", {})

    def get_tier(self, obj) -> str | None:
        return obj.payload.get("tier")

    def get_request_reason(self, obj) -> str:
        return obj.payload.get("reason", "")


class QuotaRequestCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/quota-requests/``: the new quota values or a tier, and why."""

    namespace = StrictIntegerField(help_text="Id of one of your team's namespaces")
    quota = QuotaField(required=False, default=None, allow_null=True, help_text="The whole new quota (resource -> quantity)")
    tier = StrictCharField(required=False, allow_null=True, default=None, max_length=32,
                           help_text="Name of a quota tier, instead of quota values")
    reason = StrictCharField(required=False, allow_blank=True, default="", help_text="Why; shown to the approver (at most 500 characters)")


class BudgetSerializer(serializers.Serializer):
    """A team's budget on one cluster, with what its live namespaces there already hold."""

    cluster = serializers.CharField(read_only=True)
    hard = QuotaField(read_only=True, help_text="Resource -> quantity over the sum of the team's live namespaces; {} for none")
    namespaces = serializers.IntegerField(read_only=True, allow_null=True, help_text="Most live namespaces; null for no limit")
    allocated = QuotaField(read_only=True, help_text="Sum of the hard values of the team's live namespaces on the cluster")
    allocated_namespaces = serializers.IntegerField(read_only=True)


class BudgetInputSerializer(StrictInputSerializer):
    """Body of ``PUT /api/v1/teams/{slug}/budgets/{cluster}/``."""

    hard = QuotaField(help_text='e.g. {"requests.cpu": "8", "limits.memory": "64Gi"}; {} for no limit')
    namespaces = StrictIntegerField(required=False, allow_null=True, default=None, min_value=0,
                                    help_text="Most live namespaces; null for no limit")


class ApprovalRuleSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True, allow_null=True)
    team = serializers.CharField(source="team.slug", read_only=True, allow_null=True)
    max_tier = serializers.CharField(source="max_tier.name", read_only=True, allow_null=True)
    min_utilisation = serializers.DictField(child=serializers.FloatField(), read_only=True,
                                            help_text="Resource -> percent of the current hard value")

    class Meta:
        model = ApprovalRule
        fields = ["id", "name", "order", "enabled", "kind", "cluster", "team", "max_tier", "max_increase_percent", "max_ttl_hours",
                  "min_utilisation", "window_days"]
        read_only_fields = fields
