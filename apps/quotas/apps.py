from django.apps import AppConfig


class QuotasConfig(AppConfig):
    name = "apps.quotas"
    label = "quotas"

    def ready(self):
        # Quota change requests are a kind of request; budgets and auto-approval rules hold for every kind.
        from apps.approvals.kinds import RequestKind, RequestPolicy, register_request_kind, register_request_policy
        from apps.approvals.models import Request
        from apps.quotas import selectors, services

        register_request_kind(Request.Kind.QUOTA, RequestKind(
            approve=services.quota_request_approve,
            budget=selectors.quota_request_budgets,
            preview=selectors.quota_request_preview,
            preflight=selectors.quota_request_preflight,
        ))
        register_request_policy(RequestPolicy(check=services.budget_check, auto_approve=services.auto_approve_rule))
