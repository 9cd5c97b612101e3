"""Top-level URL map: one include per app, the API under /api/v1/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("apps.accounts.urls")),
    path("", include("apps.namespaces.urls")),
    path("", include("apps.quotas.urls")),
    path("requests/", include("apps.approvals.urls")),
    path("teams/", include("apps.teams.urls")),
    path("clusters/", include("apps.clusters.urls")),
    path("audit/", include("apps.audit.urls")),
    path("violations/", include("apps.violations.urls")),
    path("onboarding/", include("apps.onboarding.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Prometheus (bearer token; see portal.metrics). /healthz and /readyz: apps.core.health's middleware.
    path("metrics", metrics_view, name="metrics"),
]

# Every path under /api/ answers JSON, errors included (apps.core.views).
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
