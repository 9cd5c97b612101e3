"""The "Change quota" form: a tier or values per resource, and why. Rules live in the services."""

from __future__ import annotations

from django import forms

from apps.core import quantities
from apps.namespaces.models import QuotaTier


def quota_field_name(resource: str) -> str:
    return "quota_" + resource.replace(".", "_")


QUOTA_FIELDS = {quota_field_name(resource): resource for resource in quantities.QUOTA_RESOURCES}


class QuotaChangeForm(forms.Form):
    tier = forms.ChoiceField(required=False, help_text="A preset (with its container defaults), or Custom with the values below.")
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why the namespace needs it; shown to the approver.")

    def __init__(self, *args, namespace, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = {t.name: t for t in QuotaTier.objects.all()}
        self.fields["tier"].choices = [("", "Custom")] + [(t.name, t.display_name) for t in self.tiers.values()]
        for field_name, resource in QUOTA_FIELDS.items():
            self.fields[field_name] = forms.CharField(required=False, label=resource, max_length=32)
        if not self.is_bound:
            for field_name, resource in QUOTA_FIELDS.items():
                self.initial.setdefault(field_name, namespace.quota.get(resource, ""))

    def quota_fields(self):
        return [self[name] for name in QUOTA_FIELDS]

    def service_arguments(self) -> dict:
        """A tier alone, or the values typed in (empty fields leave a resource out of the quota)."""
        tier = self.cleaned_data.get("tier") or None
        quota = {resource: self.cleaned_data[name].strip() for name, resource in QUOTA_FIELDS.items()
                 if self.cleaned_data.get(name, "").strip()}
        if tier:
            return {"tier": tier, "quota": None, "reason": self.cleaned_data.get("reason", "")}
        return {"tier": None, "quota": quota, "reason": self.cleaned_data.get("reason", "")}

    def add_service_errors(self, exc) -> None:
        for field, messages in exc.message_dict.items():
            for message in messages:
                resource, _, rest = message.partition(": ")
                if field == "quota" and quantities.QUOTA_RESOURCES.get(resource) is not None:
                    self.add_error(quota_field_name(resource), rest)
                elif field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, message)
