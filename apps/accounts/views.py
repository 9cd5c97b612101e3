"""Account pages: my API tokens, and the sign-in lockouts platform admins lift.

Views decide nothing: selectors say what a user sees (404 for outsiders),
services apply the rules; their errors become form errors or messages.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.accounts import selectors
from apps.accounts.forms import ApiTokenForm
from apps.accounts.oidc import end_session_url, oidc_enabled, oidc_setting
from apps.accounts.services import api_token_issue, api_token_revoke, login_unlock
from apps.core.errors import ServiceError
from apps.core.htmx import render_page

log = logging.getLogger(__name__)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def tokens(request):
    """My API tokens: list, issue (the token is shown on this response only) and revoke."""
    form = ApiTokenForm(request.POST or None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row, secret = api_token_issue(actor=request.user, user=request.user, name=form.cleaned_data["name"],
                                              expires_in_days=form.cleaned_data["expires_in_days"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                issued = {"row": row, "token": secret}
                form = ApiTokenForm()
        if form.is_bound:  # still the posted form: it has errors
            status = 400
    # never_cache (no-store): the page may hold a freshly issued token.
    return render_page(request, "accounts/tokens.html", {
        "form": form, "issued": issued, "tokens": selectors.tokens_visible_to(request.user).filter(user=request.user),
    }, status=status)


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = selectors.token_get_for_user(request.user, pk)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, f'Token "{token.name or token.prefix}" revoked; it no longer works.')
    return redirect("accounts:tokens")


@login_required
@require_http_methods(["GET", "POST"])
def lockouts(request):
    """Sign-ins locked out after too many failures; a platform admin unlocks them (audited)."""
    if not request.user.is_platform_admin:
        raise PermissionDenied("only platform admins manage sign-in lockouts")
    if request.method == "POST":
        username = request.POST.get("username", "")
        try:
            login_unlock(actor=request.user, username=username)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f'"{username}" can sign in again.')
        return redirect("accounts:lockouts")
    return render_page(request, "accounts/lockouts.html", {"lockouts": selectors.lockouts_list()[:200]})


# --- Sign-in and sign-out: local accounts and OpenID Connect (apps.accounts.oidc) -----------


class LoginView(auth_views.LoginView):
    """Django's login page, plus "Sign in with <IdP>" when OIDC is configured; local sign-in can be switched off."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "oidc_enabled": oidc_enabled(),
                "oidc_provider_name": settings.OIDC_PROVIDER_NAME, "local_login": settings.LOCAL_LOGIN_ENABLED,
                "sso_failed": self.request.GET.get("sso") == "failed"}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED:
            raise PermissionDenied("password sign-in is switched off here (LOCAL_LOGIN_ENABLED=false); "
                                   f"sign in with {settings.OIDC_PROVIDER_NAME}")
        return super().post(request, *args, **kwargs)


@require_POST
def logout(request):
    """End the portal session; after an OIDC sign-in, also the IdP's (RP-initiated logout) where it offers one."""
    idp_logout = end_session_url(request)
    auth_logout(request)
    return redirect(idp_logout or settings.LOGOUT_REDIRECT_URL)


class OIDCStartView(OIDCAuthenticationRequestView):
    """``/oidc/authenticate/``: off (404) without OIDC_ISSUER; an unreachable IdP is a 503 page, not a crash."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the endpoint is looked up per request, below

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not oidc_enabled():
            raise Http404("single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except ImproperlyConfigured as exc:
            log.error("OIDC sign-in unavailable: %s", exc)
            return render(request, "accounts/sso_unavailable.html", {"provider": settings.OIDC_PROVIDER_NAME}, status=503)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """``/oidc/callback/``: where the IdP sends the browser back with the code."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not oidc_enabled():
            raise Http404("single sign-on is not configured")
        return super().get(request)
