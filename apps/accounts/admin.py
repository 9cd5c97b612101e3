from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_revoke
from apps.audit.actions import Action
from apps.audit.admin_mixins import AuditedAdminMixin
from apps.audit.services import audit_record
from apps.core.errors import ServiceError


@admin.register(User)
class PortalUserAdmin(AuditedAdminMixin, UserAdmin):
    # Platform roles, staff/superuser flags and groups are who-may-do-what: every change is audited.
    audit_action_prefix = "user"
    audit_secret_fields = ("password",)
    fieldsets = UserAdmin.fieldsets + (("Platform", {"fields": ("platform_role",)}),)
    list_display = ("username", "email", "platform_role", "is_active", "is_staff")
    list_filter = ("platform_role", "is_active", "is_staff")
    # Records, not settings; and their split date/time widgets drop microseconds, so
    # every save would otherwise "change" them (and audit a bogus change).
    readonly_fields = ("last_login", "date_joined")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None or obj.pk != request.user.pk:
            return form

        class OwnUserForm(form):
            # The deactivate service refuses this too; refusing it in the form shows it on the page.
            def clean_is_active(self):
                if not self.cleaned_data.get("is_active"):
                    raise ValidationError("You cannot deactivate yourself.")
                return True

        return OwnUserForm

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # writes the user.update row
        if change and "is_active" in form.changed_data and not form.instance.is_active:
            # Unticking "active" must also remove their memberships and tokens (and so their
            # RoleBindings): that is the deactivate service's job, so the admin goes through it.
            from apps.teams.services import user_deactivate

            user_deactivate(actor=request.user, user=form.instance)

    def user_change_password(self, request, id, form_url=""):
        # The admin's separate password page saves the form itself, past save_model: audit it
        # here (that it happened, never the hash), in the same transaction as the change.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=id)
                audit_record(actor=request.user, action=Action.USER_SET_PASSWORD, target=user,
                             after={"usable_password": user.has_usable_password()})
        return response

    def has_delete_permission(self, request, obj=None):
        # Deleting a user would cascade their memberships past the team services (no
        # RoleBinding reconcile) and orphan history; deactivate them instead.
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_action_prefix = "api_token"
    audit_secret_fields = ("digest",)  # the token's hash never goes into the audit log
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


# Groups carry model permissions (e.g. who may use this admin): audit their changes too.
admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    audit_action_prefix = "group"
