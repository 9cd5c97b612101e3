from django.urls import path

from apps.teams import views

app_name = "teams"

urlpatterns = [
    path("", views.team_list, name="list"),
    path("users/<int:pk>/deactivate/", views.user_deactivate_view, name="user-deactivate"),
    path("<slug:slug>/", views.team_detail, name="detail"),
    path("<slug:slug>/members/add/", views.member_add, name="member-add"),
    path("<slug:slug>/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("<slug:slug>/members/<int:pk>/remove/", views.member_remove, name="member-remove"),
]
