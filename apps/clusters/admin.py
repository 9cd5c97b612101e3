"""Django admin for clusters: health at a glance, defaults editable, credentials never shown.

Clusters are connected with ``manage.py add_cluster`` (which reads a
kubeconfig and encrypts the credentials), not typed into a form.
"""

from django.contrib import admin, messages
from django.db import transaction

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.clusters.models import Cluster
from apps.clusters.services import cluster_check_health, cluster_snapshot


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "api_server_url", "health", "server_version", "health_checked_at", "default_pod_security", "auth_kind")
    list_filter = ("health", "default_pod_security", "auth_kind")
    search_fields = ("name", "api_server_url")
    fields = ("name", "api_server_url", "auth_kind", "ca_bundle", "default_pod_security", "labels", "capacity",
              "health", "health_message", "health_checked_at", "server_version", "created_at", "updated_at")
    readonly_fields = ("name", "api_server_url", "auth_kind", "ca_bundle", "health", "health_message", "health_checked_at",
                       "server_version", "created_at", "updated_at")
    actions = ["check_health"]

    def has_add_permission(self, request):
        return False  # `python manage.py add_cluster NAME --kubeconfig FILE`

    def has_delete_permission(self, request, obj=None):
        return False  # namespaces reference clusters; history must stay readable

    def save_model(self, request, obj, form, change):
        if not form.changed_data:
            return  # nothing changed: no save, no audit row
        with transaction.atomic():
            before = cluster_snapshot(Cluster.objects.get(pk=obj.pk))
            obj.save()
            audit_record(actor=request.user, action=Action.CLUSTER_UPDATE, target=obj, before=before, after=cluster_snapshot(obj))

    @admin.action(description="Check health now")
    def check_health(self, request, queryset):
        for cluster in queryset:
            cluster = cluster_check_health(cluster)
            level = messages.SUCCESS if cluster.health == Cluster.Health.HEALTHY else messages.WARNING
            self.message_user(request, f"{cluster.name}: {cluster.get_health_display()} {cluster.server_version or cluster.health_message}", level)
