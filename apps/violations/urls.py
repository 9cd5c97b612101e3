from django.urls import path

from apps.violations import views

app_name = "violations"

urlpatterns = [
    path("", views.violation_list, name="list"),
]
