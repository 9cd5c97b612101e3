"""``/api/v1/namespaces/``, ``/api/v1/namespace-requests/`` and ``/api/v1/quota-tiers/``."""

from rest_framework.routers import SimpleRouter

from apps.namespaces.api.views import NamespaceRequestViewSet, NamespaceViewSet, QuotaTierViewSet

router = SimpleRouter()
router.register("namespaces", NamespaceViewSet, basename="namespace")
router.register("namespace-requests", NamespaceRequestViewSet, basename="namespace-request")
router.register("quota-tiers", QuotaTierViewSet, basename="quota-tier")

urlpatterns = router.urls
