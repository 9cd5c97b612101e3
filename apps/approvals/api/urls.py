"""``/api/v1/namespace-requests/`` (membership requests live in the onboarding API)."""

from rest_framework.routers import SimpleRouter

from apps.approvals.api.views import NamespaceRequestViewSet

router = SimpleRouter()
router.register("namespace-requests", NamespaceRequestViewSet, basename="namespace-request")

urlpatterns = router.urls
