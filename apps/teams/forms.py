"""Forms of the team pages: create or edit a team, add a member, change a role. Rules live in the services."""

from __future__ import annotations

from django import forms

from apps.accounts.models import User
from apps.core import quantities
from apps.teams.models import Membership


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f'no active user "{username}"')
        self.cleaned_data["user"] = user
        return username


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


# --- Team administration -------------------------------------------------------------------------

def budget_field_name(resource: str) -> str:
    return "budget_" + resource.replace(".", "_")


BUDGET_FIELDS = {budget_field_name(resource): resource for resource in quantities.QUOTA_RESOURCES}


class TeamForm(forms.Form):
    """Create or edit a team. Which fields a person gets is decided by ``for_editor``; the rules are the services'.

    The budget is one optional field per quota resource (blank: no budget for
    it); ``budget`` in ``cleaned_data`` is the dict the services take.
    """

    slug = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'. It labels every cluster "
                                                    "object of the team, so it is fixed once the team has namespaces.")
    name = forms.CharField(max_length=100, label="Display name")
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    contact = forms.CharField(max_length=200, required=False, help_text="Email or chat channel of the team")
    manager = forms.CharField(max_length=150, required=False, label="First manager",
                              help_text="Username of an active user who will decide the team's requests (optional)")

    def __init__(self, *args, team=None, editable=None, **kwargs):
        """``team``: the team being edited (None: a new one); ``editable``: the fields this person may change."""
        super().__init__(*args, **kwargs)
        for field_name, resource in BUDGET_FIELDS.items():
            self.fields[field_name] = forms.CharField(required=False, label=resource, max_length=32)
        if team is not None:
            del self.fields["manager"]
            if not self.is_bound:
                self.initial.update({"slug": team.slug, "name": team.name, "description": team.description,
                                     "contact": team.contact})
                for field_name, resource in BUDGET_FIELDS.items():
                    self.initial[field_name] = (team.budget or {}).get(resource, "")
        for name, field in self.fields.items():
            if editable is not None and name not in editable and not (name in BUDGET_FIELDS and "budget" in editable):
                field.disabled = True
                field.required = False

    def budget_fields(self):
        return [self[name] for name in BUDGET_FIELDS]

    def main_fields(self):
        return [self[name] for name in self.fields if name not in BUDGET_FIELDS]

    def clean_manager(self):
        username = self.cleaned_data.get("manager", "").strip()
        if not username:
            return None
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f'no active user "{username}"')
        return user

    def clean(self):
        cleaned = super().clean()
        cleaned["budget"] = {resource: cleaned[name].strip() for name, resource in BUDGET_FIELDS.items()
                             if cleaned.get(name, "").strip()}
        return cleaned

    def changes(self) -> dict:
        """The fields this person may change, as ``team_update`` takes them."""
        fields = {name: self.cleaned_data[name] for name in ("slug", "name", "description", "contact")
                  if name in self.fields and not self.fields[name].disabled}
        if not self[next(iter(BUDGET_FIELDS))].field.disabled:
            fields["budget"] = self.cleaned_data["budget"]
        return fields

    def add_service_errors(self, exc) -> None:
        """Put a service's ``ValidationError`` on the fields it names (budget problems on the budget block)."""
        for field, messages in exc.message_dict.items():
            for message in messages:
                resource, _, rest = message.partition(": ")
                if field == "budget" and budget_field_name(resource) in self.fields:
                    self.add_error(budget_field_name(resource), rest)
                elif field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, message if field == "__all__" else f"{field}: {message}")
