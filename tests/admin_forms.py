"""Post Django admin forms the way a browser would: start from what the change page renders."""

from __future__ import annotations

from django.forms import MultiWidget


def _add_form(form, data: dict) -> None:
    for name, field in form.fields.items():
        if field.disabled:
            continue
        bound = form[name]
        value = bound.value()  # already prepared for the widget (JSON as text, objects as pks)
        key = bound.html_name
        if field.show_hidden_initial and value is not None:
            data[bound.html_initial_name] = value  # fields with callable defaults render a hidden initial too
        if isinstance(field.widget, MultiWidget):
            parts = value if isinstance(value, (list, tuple)) else field.widget.decompress(value)
            for i, (sub, part) in enumerate(zip(field.widget.widgets, parts, strict=False)):
                data[f"{key}_{i}"] = sub.format_value(part) or ""
            continue
        if value is None or value is False:
            continue  # an unticked checkbox / empty choice is simply not posted
        data[key] = "on" if value is True else (list(value) if isinstance(value, (list, tuple)) else value)


def admin_form_data(response) -> dict:
    """The POST body of the admin add/change page in ``response``, including its inline formsets."""
    data: dict = {}
    _add_form(response.context["adminform"].form, data)
    for inline in response.context.get("inline_admin_formsets") or []:
        formset = inline.formset
        _add_form(formset.management_form, data)
        for form in formset.forms:
            _add_form(form, data)  # "extra" rows too: a browser posts their defaults
    return data
