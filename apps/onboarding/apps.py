from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "apps.onboarding"
    label = "onboarding"

    def ready(self):
        # Join requests are a kind of request: approving one adds the member
        # (the workflow never imports us).
        from apps.approvals.kinds import RequestKind, register_request_kind
        from apps.approvals.models import Request
        from apps.onboarding import services

        register_request_kind(Request.Kind.MEMBERSHIP, RequestKind(approve=services.membership_request_approve))
