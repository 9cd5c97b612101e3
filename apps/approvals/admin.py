"""Read-only admin for requests: decisions are made in the portal (four-eyes, audited), not here."""

from django.contrib import admin

from apps.approvals.models import Request


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "state", "team", "name", "cluster", "requester", "decider", "created_at", "finished_at")
    list_filter = ("kind", "state", "team", "cluster")
    search_fields = ("name", "team__slug", "requester__username", "reason")
    list_select_related = ("team", "cluster", "requester", "decider")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Request._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
