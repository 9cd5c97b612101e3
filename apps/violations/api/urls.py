"""``/api/v1/violations/``."""

from rest_framework.routers import SimpleRouter

from apps.violations.api.views import ViolationViewSet

router = SimpleRouter()
router.register("violations", ViolationViewSet, basename="violation")

urlpatterns = router.urls
