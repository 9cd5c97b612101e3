"""Quotas API: ``/api/v1/quota-requests/``, ``/api/v1/teams/{slug}/budgets/`` and ``/api/v1/approval-rules/``.

Views hold no rules: visibility comes from the selectors (outsiders 404),
the rules from ``apps.quotas.services``, whose errors
``apps.core.api.errors.exception_handler`` maps to 400/403/409/422.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from apps.approvals.models import Request
from apps.approvals.viewsets import RequestWorkflowViewSet, workflow_schema
from apps.clusters.models import Cluster
from apps.core import quantities
from apps.core.api.errors import error_responses
from apps.core.api.idempotency import idempotency_key_from
from apps.namespaces.selectors import namespaces_visible_to
from apps.quotas.api.serializers import (
    ApprovalRuleSerializer,
    BudgetInputSerializer,
    BudgetSerializer,
    QuotaRequestCreateInputSerializer,
    QuotaRequestSerializer,
)
from apps.quotas.budgets import allocated
from apps.quotas.models import ApprovalRule, TeamBudget
from apps.quotas.services import budget_set, quota_request_submit
from apps.teams.selectors import team_get_for_user


@workflow_schema(noun="quota change request", output=QuotaRequestSerializer,
                 create_input=QuotaRequestCreateInputSerializer, tag="quota-requests")
class QuotaRequestViewSet(RequestWorkflowViewSet):
    """``/api/v1/quota-requests/``: ask for a namespace's quota to change, follow it, decide it."""

    kind = Request.Kind.QUOTA
    output_serializer_class = QuotaRequestSerializer

    def get_serializer_class(self):
        if self.action == "create":
            return QuotaRequestCreateInputSerializer
        return super().get_serializer_class()

    def create(self, request):
        key = idempotency_key_from(request)
        data = self._input(QuotaRequestCreateInputSerializer)
        namespace = namespaces_visible_to(request.user).filter(pk=data.pop("namespace")).first()
        if namespace is None:
            # The same answer whether it does not exist or is another team's.
            raise ValidationError({"namespace": ["no such namespace among your teams' namespaces"]})
        return self.respond_submitted(quota_request_submit(actor=request.user, namespace=namespace,
                                                           idempotency_key=key, **data))


def _budget_row(team, cluster, budget: TeamBudget | None) -> dict:
    held = allocated(team, cluster)
    return {"cluster": cluster.name, "hard": budget.hard if budget else {},
            "namespaces": budget.namespaces if budget else None,
            "allocated": {resource: quantities.format_quantity(value, resource) for resource, value in sorted(held.hard.items())},
            "allocated_namespaces": held.namespaces}


_SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Team slug")
_CLUSTER = OpenApiParameter("cluster", str, OpenApiParameter.PATH, description="Cluster name")


@extend_schema_view(
    list=extend_schema(summary="A team's budgets, per cluster", tags=["budgets"], parameters=[_SLUG],
                       description="Every cluster, with the team's budget there ({} and null: none) and what its live "
                                   "namespaces there already hold. Anyone who can see the team; 404 otherwise.",
                       responses={200: BudgetSerializer(many=True), **error_responses(401, 404)}),
    update=extend_schema(summary="Set a team's budget on a cluster", tags=["budgets"], parameters=[_SLUG, _CLUSTER],
                         request=BudgetInputSerializer,
                         description="Platform admins. Namespace requests and quota changes that would take the team over "
                                     "it are refused on submit and again, under a lock, on approval. Audited.",
                         responses={200: BudgetSerializer, **error_responses(400, 401, 403, 404)}),
)
class TeamBudgetViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """``/api/v1/teams/{slug}/budgets/`` and ``/api/v1/teams/{slug}/budgets/{cluster}/``."""

    queryset = TeamBudget.objects.none()  # schema only
    serializer_class = BudgetSerializer
    filterset_class = None
    pagination_class = None
    parser_classes = [JSONParser]
    lookup_field = "cluster"
    lookup_value_regex = "[-a-z0-9]+"
    http_method_names = ["get", "put", "head", "options"]

    def list(self, request, slug=None):
        team = team_get_for_user(request.user, slug)
        budgets = {b.cluster_id: b for b in TeamBudget.objects.filter(team=team)}
        rows = [_budget_row(team, cluster, budgets.get(cluster.pk)) for cluster in Cluster.objects.order_by("name")]
        return Response(BudgetSerializer(rows, many=True).data)

    def update(self, request, slug=None, cluster=None):
        team = team_get_for_user(request.user, slug)  # 404 for outsiders first
        target = Cluster.objects.filter(name=cluster).first()
        if target is None:
            raise Http404("No such cluster")
        if not request.user.is_platform_admin:
            raise PermissionDenied("only platform admins can set team budgets")
        body = BudgetInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        budget = budget_set(actor=request.user, team=team, cluster=target, **body.validated_data)
        return Response(BudgetSerializer(_budget_row(team, target, budget)).data, status=status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="List auto-approval rules", tags=["approval-rules"],
                       description="In the order they are evaluated at submission; the first match approves. Edited by "
                                   "platform admins in the Django admin.",
                       responses={200: ApprovalRuleSerializer(many=True), **error_responses(401)}),
)
class ApprovalRuleViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = ApprovalRule.objects.select_related("cluster", "team", "max_tier").order_by("order", "pk")
    serializer_class = ApprovalRuleSerializer
    filterset_class = None
