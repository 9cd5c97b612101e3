"""``/api/v1/clusters/``."""

from rest_framework.routers import SimpleRouter

from apps.clusters.api.views import ClusterViewSet

router = SimpleRouter()
router.register("clusters", ClusterViewSet, basename="cluster")

urlpatterns = router.urls
