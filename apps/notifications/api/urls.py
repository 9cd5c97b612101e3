"""``/api/v1/notifications/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.notifications.api.views import EmailSettingsView, NotificationViewSet

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [path("notifications/email-settings/", EmailSettingsView.as_view(), name="notification-email-settings"),
               *router.urls]
