from django.urls import path

from apps.quotas import views

app_name = "quotas"

urlpatterns = [
    path("namespaces/<int:pk>/quota/", views.quota_change, name="change"),
    path("teams/<slug:slug>/budgets/<slug:cluster>/", views.budget_edit, name="budget"),
]
