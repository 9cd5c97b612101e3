"""Sign-in events, handed to the services that audit them.

Django reports sign-ins only through these signals, so they are the hook;
the audit write itself stays in ``apps.accounts.services``.
"""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.accounts import services


def _ip(request) -> str | None:
    return get_client_ip_address(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender, request, user, **kwargs):
    # A sign-in with no HTTP client behind it (the test client's force_login,
    # login() from a shell) is not a person signing in: only requests that
    # came over the wire carry REMOTE_ADDR.
    if request is None or not request.META.get("REMOTE_ADDR"):
        return
    services.sign_in_record(user=user, ip_address=_ip(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username") or ""
    services.sign_in_failure_record(username=str(username), ip_address=_ip(request))


@receiver(user_locked_out, dispatch_uid="accounts.audit_lockout")
def audit_lockout(sender, request, username, ip_address, **kwargs):
    services.sign_in_failure_record(username=str(username or ""), ip_address=ip_address, locked_out=True)
