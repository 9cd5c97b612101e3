"""Audit for changes made through the Django admin.

The admin writes rows itself (``save_model``, ``save_related``, ``delete_model``
and the bulk ``delete_queryset`` behind "delete selected"), so without this
those changes would leave no audit row. The mixin records the changed fields
before and after (NetBox ObjectChange shape) through ``audit_record``, inside
the admin's transaction. Fields named in ``audit_secret_fields`` (password
hashes, token digests, credentials) never reach the audit log: a change to
one is recorded as ``"<changed>"`` only.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from apps.audit.actions import Action
from apps.audit.services import audit_record

SECRET_MARK = "<changed>"


class AuditedAdminMixin:
    # e.g. "user": the admin records Action.USER_CREATE / USER_UPDATE / USER_DELETE.
    audit_action_prefix: str = ""
    audit_secret_fields: tuple[str, ...] = ()

    # --- what is recorded -------------------------------------------------

    def audit_fields(self, obj) -> list[str]:
        """Every editable model field (concrete and many-to-many) worth showing in a delete's ``before``."""
        names = [f.name for f in obj._meta.concrete_fields if not f.primary_key]
        names += [f.name for f in obj._meta.many_to_many]
        return names

    def _model_field_names(self, obj) -> set[str]:
        return {f.name for f in obj._meta.concrete_fields} | {f.name for f in obj._meta.many_to_many}

    def audit_snapshot(self, obj, fields) -> dict:
        snapshot = {}
        for name in fields:
            if name in self.audit_secret_fields:
                continue
            field = obj._meta.get_field(name)
            if field.many_to_many:
                value = sorted(str(o) for o in getattr(obj, name).all()) if obj.pk else []
            elif field.is_relation:
                value = str(getattr(obj, name)) if getattr(obj, field.attname) is not None else None
            else:
                value = field.value_from_object(obj)
            # JSONField storage: datetimes and decimals as strings.
            snapshot[name] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
        return snapshot

    def audit_team(self, obj):
        return None

    def _record(self, request, obj, verb, before=None, after=None):
        audit_record(actor=request.user, action=Action(f"{self.audit_action_prefix}.{verb}"), target=obj,
                     team=self.audit_team(obj), before=before, after=after)

    # --- admin hooks ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            changed = [n for n in form.changed_data if n in self._model_field_names(obj)]
            before = None
            if change:
                # The form has already put the new values on ``obj``: read the old ones from the database.
                stored = type(obj)._default_manager.get(pk=obj.pk)
                before = self.audit_snapshot(stored, changed)
                for name in changed:
                    if name in self.audit_secret_fields:
                        before[name] = SECRET_MARK
            super().save_model(request, obj, form, change)
            # The after is taken in save_related, once many-to-many fields are saved too.
            request._audit_pending = (obj, changed, before, change)

    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            pending = getattr(request, "_audit_pending", None)
            if pending is None or pending[0] is not form.instance:
                return
            request._audit_pending = None
            obj, changed, before, change = pending
            if change and not changed:
                return  # nothing on this object changed (inlines audit themselves)
            fields = changed if change else self.audit_fields(obj)
            after = self.audit_snapshot(obj, fields)
            for name in fields:
                if name in self.audit_secret_fields and change:
                    after[name] = SECRET_MARK
            self._record(request, obj, "update" if change else "create", before=before, after=after)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record(request, obj, "delete", before=self.audit_snapshot(obj, self.audit_fields(obj)))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action: one audit row per object, in one transaction with the delete.
        with transaction.atomic():
            for obj in queryset:
                self._record(request, obj, "delete", before=self.audit_snapshot(obj, self.audit_fields(obj)))
            super().delete_queryset(request, queryset)
