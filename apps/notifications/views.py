"""Inbox pages: the list (newest first, unread marked), mark read, the header badge, email settings."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.htmx import render_page
from apps.notifications.models import Kind
from apps.notifications.selectors import email_opt_outs, notification_get_for_user, notifications_of, unread_count
from apps.notifications.services import email_opt_outs_set, notifications_mark_read

PAGE_SIZE = 25


@login_required
@require_GET
def inbox(request):
    """My notifications, newest first; ``?unread=1`` for the unread ones only."""
    rows = notifications_of(request.user)
    only_unread = request.GET.get("unread") == "1"
    if only_unread:
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render_page(request, "notifications/inbox.html", {"page": page, "only_unread": only_unread})


@login_required
@require_POST
def mark_read(request, pk: int):
    """Mark one read; ``open`` in the form follows its link (the inbox entry's main action)."""
    notification = notification_get_for_user(request.user, pk)
    notifications_mark_read(request.user, [notification.pk])
    if request.POST.get("open") and notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect(notification.url)
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request):
    changed = notifications_mark_read(request.user)
    messages.success(request, f"{changed} notification{'' if changed == 1 else 's'} marked read." if changed else "Nothing unread.")
    return redirect("notifications:inbox")


@login_required
@require_GET
def badge(request):
    """The header badge alone (htmx refreshes it)."""
    return render(request, "notifications/_badge.html", {"unread_notifications": unread_count(request.user)})


class EmailSettingsForm(forms.Form):
    """One checkbox per kind: checked = send me email for it."""

    def __init__(self, *args, opted_out: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in Kind.choices:
            self.fields[value] = forms.BooleanField(required=False, label=label, initial=value not in opted_out)

    def kinds_off(self) -> set[str]:
        return {kind for kind in Kind.values if not self.cleaned_data.get(kind)}


@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request):
    form = EmailSettingsForm(request.POST or None, opted_out=email_opt_outs(request.user))
    if request.method == "POST" and form.is_valid():
        email_opt_outs_set(request.user, form.kinds_off())
        messages.success(request, "Email settings saved; the inbox keeps showing every kind.")
        return redirect("notifications:settings")
    return render_page(request, "notifications/settings.html", {"form": form, "has_email": bool(request.user.email)})
