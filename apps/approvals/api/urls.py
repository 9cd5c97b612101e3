"""``/api/v1/requests/``."""

from rest_framework.routers import SimpleRouter

from apps.approvals.api.views import RequestViewSet

router = SimpleRouter()
router.register("requests", RequestViewSet, basename="request")

urlpatterns = router.urls
