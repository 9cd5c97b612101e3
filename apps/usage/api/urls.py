"""``/api/v1/namespaces/{id}/usage/``, ``/api/v1/teams/{slug}/usage/``, ``/api/v1/clusters/{name}/usage/``."""

from django.urls import path

from apps.usage.api.views import ClusterUsageView, NamespaceUsageView, TeamUsageView

urlpatterns = [
    path("namespaces/<int:pk>/usage/", NamespaceUsageView.as_view(), name="namespace-usage"),
    path("teams/<slug:slug>/usage/", TeamUsageView.as_view(), name="team-usage"),
    path("clusters/<slug:name>/usage/", ClusterUsageView.as_view(), name="cluster-usage"),
]
