from rest_framework.routers import SimpleRouter

from apps.onboarding.api.views import KubeconfigViewSet, MembershipRequestViewSet

router = SimpleRouter()
router.register("membership-requests", MembershipRequestViewSet, basename="membership-request")
router.register("kubeconfigs", KubeconfigViewSet, basename="kubeconfig")

urlpatterns = router.urls
