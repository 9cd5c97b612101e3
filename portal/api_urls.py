"""REST API v1: each app contributes its routes from ``<app>/api/urls.py``."""

from django.urls import include, path

from apps.core.views import api_root

urlpatterns = [
    path("", api_root, name="api-root"),
    path("", include("apps.teams.api.urls")),
    path("", include("apps.clusters.api.urls")),
    path("", include("apps.namespaces.api.urls")),
    path("", include("apps.onboarding.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.quotas.api.urls")),
    path("", include("apps.approvals.api.urls")),
    path("", include("apps.violations.api.urls")),
    path("", include("apps.usage.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.notifications.api.urls")),
]
