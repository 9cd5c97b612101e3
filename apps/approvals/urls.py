from django.urls import path

from apps.approvals import views

app_name = "approvals"

urlpatterns = [
    path("queue/", views.approval_queue, name="queue"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/approve/", views.request_approve_view, name="approve"),
    path("<int:pk>/reject/", views.request_reject_view, name="reject"),
    path("<int:pk>/cancel/", views.request_cancel_view, name="cancel"),
]
