"""``/api/v1/namespaces/``."""

from rest_framework.routers import SimpleRouter

from apps.namespaces.api.views import NamespaceViewSet

router = SimpleRouter()
router.register("namespaces", NamespaceViewSet, basename="namespace")

urlpatterns = router.urls
