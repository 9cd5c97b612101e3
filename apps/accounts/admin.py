from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.accounts.models import ApiToken, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Platform", {"fields": ("platform_role",)}),)
    list_display = ("username", "email", "platform_role", "is_active", "is_staff")
    list_filter = ("platform_role", "is_active", "is_staff")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at")
    readonly_fields = ("prefix", "digest", "user", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are issued with `manage.py issue_api_token`, which shows them once
