from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_revoke
from apps.core.errors import ServiceError


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Platform", {"fields": ("platform_role",)}),)
    list_display = ("username", "email", "platform_role", "is_active", "is_staff")
    list_filter = ("platform_role", "is_active", "is_staff")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("prefix", "digest", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are issued on the API tokens page or with `manage.py issue_api_token`, which show them once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays so the audit log and a stale client can tell what happened

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        done = 0
        for token in queryset.select_related("user"):
            try:
                api_token_revoke(actor=request.user, token=token)
                done += 1
            except ServiceError:
                pass  # already revoked
            except PermissionDenied as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                return
        self.message_user(request, f"{done} token(s) revoked.")
