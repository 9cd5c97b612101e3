"""Forms of the account pages: shapes only; limits live in the services."""

from __future__ import annotations

from django import forms
from django.conf import settings

from apps.accounts.models import ApiToken


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=ApiToken._meta.get_field("name").max_length, help_text="What the token is for, e.g. ci")
    expires_in_days = forms.IntegerField(label="Expires in (days)", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["expires_in_days"]
        field.help_text = f"Default {settings.API_TOKEN_DEFAULT_DAYS}, at most {settings.API_TOKEN_MAX_DAYS}"
        field.widget.attrs.update({"min": 1, "max": settings.API_TOKEN_MAX_DAYS, "placeholder": settings.API_TOKEN_DEFAULT_DAYS})
