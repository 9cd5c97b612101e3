"""``/api/v1/namespaces/`` and ``/api/v1/namespace-requests/``."""

from rest_framework.routers import SimpleRouter

from apps.namespaces.api.views import NamespaceRequestViewSet, NamespaceViewSet

router = SimpleRouter()
router.register("namespaces", NamespaceViewSet, basename="namespace")
router.register("namespace-requests", NamespaceRequestViewSet, basename="namespace-request")

urlpatterns = router.urls
