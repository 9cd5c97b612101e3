"""``/api/v1/quota-requests/``, ``/api/v1/teams/{slug}/budgets/`` and ``/api/v1/approval-rules/``."""

from rest_framework.routers import SimpleRouter

from apps.quotas.api.views import ApprovalRuleViewSet, QuotaRequestViewSet, TeamBudgetViewSet

router = SimpleRouter()
router.register("quota-requests", QuotaRequestViewSet, basename="quota-request")
router.register(r"teams/(?P<slug>[-a-zA-Z0-9_]+)/budgets", TeamBudgetViewSet, basename="team-budget")
router.register("approval-rules", ApprovalRuleViewSet, basename="approval-rule")

urlpatterns = router.urls
