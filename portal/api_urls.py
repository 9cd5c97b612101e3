"""REST API v1: each app contributes its routes from ``<app>/api/urls.py``."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.teams.api.urls")),
    path("", include("apps.clusters.api.urls")),
    path("", include("apps.namespaces.api.urls")),
    path("", include("apps.approvals.api.urls")),
    path("", include("apps.onboarding.api.urls")),
    path("", include("apps.accounts.api.urls")),
]
