from django.urls import path

from apps.onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("join/", views.join, name="join"),
    path("join/<int:pk>/cancel/", views.cancel_join, name="cancel-join"),
    path("kubeconfig/", views.kubeconfig, name="kubeconfig"),
    path("credentials/", views.credentials, name="credentials"),
    path("certificates/", views.certificates_admin, name="certificates"),
    path("kpi/", views.kpi, name="kpi"),
]
