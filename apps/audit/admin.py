"""Read-only admin for the audit log: it is append-only, nobody edits or deletes history."""

from django.contrib import admin

from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_name", "via", "action", "target_type", "target_repr", "team", "request_id", "client_request_id")
    list_filter = ("via", "action", "target_type")
    search_fields = ("actor_name", "action", "target_repr", "target_id", "request_id", "client_request_id", "message")
    date_hierarchy = "created_at"
    list_select_related = ("team",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
