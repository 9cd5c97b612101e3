"""Forms of the team pages: add a member, change a role. Rules live in the services."""

from __future__ import annotations

from django import forms

from apps.accounts.models import User
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
