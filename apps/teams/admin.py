"""Django admin for teams and memberships; every change goes through the team services.

Writing rows directly would skip the audit log and the reconcile that makes
RoleBindings follow membership, so the inline's save calls the services.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.teams import services
from apps.teams.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "contact", "created_at", "archived_at")
    search_fields = ("slug", "name")
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug is on every cluster object (label portal.platform.io/team): fixed once created here
        # (the team's edit page allows a change while it has no namespaces). Archiving has its own checks: the page.
        return ("slug", "created_at", "archived_at") if obj else ("created_at", "archived_at")

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.team_create(actor=request.user, slug=obj.slug, name=obj.name, description=obj.description,
                                           contact=obj.contact, budget=obj.budget)
            obj.pk = created.pk
            return
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in services.TEAM_FIELDS}
        if changes:  # only the inline changed: its services audit that; no empty team.update row
            services.team_update(actor=request.user, team=obj, **changes)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        team = form.instance
        # The admin's change message reads these lists, which formset.save() would have
        # filled; we do not call it (it would bypass the services), so fill them here.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        try:
            for inline_form in formset.forms:
                if not inline_form.has_changed() and not formset._should_delete_form(inline_form):
                    continue
                instance = inline_form.instance
                if formset._should_delete_form(inline_form):
                    if instance.pk:
                        services.membership_remove(actor=request.user, membership=instance)
                        formset.deleted_objects.append(instance)
                elif instance.pk:
                    # The form has already set the new role on ``instance``: the service must see the stored one.
                    stored = Membership.objects.get(pk=instance.pk)
                    services.membership_change_role(actor=request.user, membership=stored, role=inline_form.cleaned_data["role"])
                    formset.changed_objects.append((stored, inline_form.changed_data))
                elif inline_form.cleaned_data.get("user"):
                    created = services.membership_add(actor=request.user, team=team, user=inline_form.cleaned_data["user"],
                                                      role=inline_form.cleaned_data["role"])
                    formset.new_objects.append(created)
        except (PermissionDenied, ServiceError, ValidationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))

    def delete_model(self, request, obj):
        # Deleting a team with namespaces is refused by the database (PROTECT); an empty team may go.
        with transaction.atomic():
            audit_record(actor=request.user, action=Action.TEAM_DELETE, target=obj, before={"slug": obj.slug, "name": obj.name})
            obj.delete()

    def delete_queryset(self, request, queryset):
        # "Delete selected teams": audited one row per team, in the same transaction as the delete.
        with transaction.atomic():
            for team in queryset:
                audit_record(actor=request.user, action=Action.TEAM_DELETE, target=team, before={"slug": team.slug, "name": team.name})
            queryset.delete()

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and getattr(request.user, "is_platform_admin", False)
