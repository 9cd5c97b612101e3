"""Django admin for namespaces: read their reconcile state, re-drive or delete through the services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.namespaces.models import Namespace, QuotaTier
from apps.namespaces.services import namespace_delete, namespace_set_protected


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "cluster", "team", "phase", "attempts", "applied_at", "expires_at", "protected")
    list_filter = ("phase", "cluster", "team", "pod_security_level")
    search_fields = ("name", "team__slug", "purpose")
    list_select_related = ("cluster", "team")
    readonly_fields = [f.name for f in Namespace._meta.fields if f.name != "protected"]
    actions = ["reconcile_now", "check_drift_now", "delete_on_cluster"]

    def has_add_permission(self, request):
        return False  # namespaces come from approved requests

    def has_delete_permission(self, request, obj=None):
        return False  # the row stays for history; use the "delete on the cluster" action

    def save_model(self, request, obj, form, change):
        # ``protected`` is the only editable field; route it through the
        # audited service instead of a bare save (which would leave no audit row).
        if change and "protected" in form.changed_data:
            try:
                namespace_set_protected(actor=request.user, namespace=obj, protected=obj.protected)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{obj.name}: {' '.join(getattr(exc, 'messages', [str(exc)]))}", messages.ERROR)

    @admin.action(description="Reconcile now")
    def reconcile_now(self, request, queryset):
        from apps.namespaces.tasks import reconcile_namespace

        for namespace in queryset:
            reconcile_namespace.delay(namespace.pk)
        self.message_user(request, f"Reconcile queued for {queryset.count()} namespace(s).")

    @admin.action(description="Check for drift now")
    def check_drift_now(self, request, queryset):
        from apps.namespaces.tasks import reconcile_namespace

        for namespace in queryset:
            reconcile_namespace.delay(namespace.pk, check_drift=True)
        self.message_user(request, f"Drift check queued for {queryset.count()} namespace(s).")

    @admin.action(description="Delete on the cluster")
    def delete_on_cluster(self, request, queryset):
        for namespace in queryset.select_related("team", "cluster"):
            try:
                namespace_delete(actor=request.user, namespace=namespace)
            except PermissionDenied as exc:
                self.message_user(request, f"{namespace.name}: {exc}", messages.ERROR)


@admin.register(QuotaTier)
class QuotaTierAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_action_prefix = "quota_tier"
    list_display = ("name", "display_name", "order", "hard")
    ordering = ("order", "name")
