"""Django admin: the certificate inventory and onboarding KPI rows, read-only (they are records)."""

from django.contrib import admin

from apps.onboarding.models import IssuedCertificate, Onboarding


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "cluster", "namespace_name", "serial", "not_after", "key_mode", "created_at"]
    list_filter = ["cluster", "key_mode"]
    search_fields = ["user__username", "serial", "fingerprint_sha256", "csr_name"]
    list_select_related = ["user", "cluster"]


@admin.register(Onboarding)
class OnboardingAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "team", "approved_at", "access_ready_at", "first_kubeconfig_at",
                    "seconds_from_approval", "seconds_from_submission"]
    list_select_related = ["user", "team"]
