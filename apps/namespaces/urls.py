from django.urls import path

from apps.namespaces import views

app_name = "namespaces"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("namespaces/request/", views.request_create, name="request"),
    path("namespaces/request/validate/", views.request_validate, name="request_validate"),
    path("namespaces/request/quota/", views.request_quota_fields, name="request_quota"),
    path("namespaces/adopt/", views.namespace_adopt_view, name="adopt"),
    path("namespaces/<int:pk>/", views.namespace_detail, name="detail"),
    path("namespaces/<int:pk>/manifests.yaml", views.namespace_manifests, name="manifests"),
    path("namespaces/<int:pk>/delete/", views.namespace_delete, name="delete"),
    path("namespaces/<int:pk>/protect/", views.namespace_protect, name="protect"),
    path("namespaces/<int:pk>/extend/", views.namespace_extend, name="extend"),
]
