"""Account pages: my API tokens, and the sign-in lockouts platform admins lift.

Views decide nothing: selectors say what a user sees (404 for outsiders),
services apply the rules; their errors become form errors or messages.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors
from apps.accounts.forms import ApiTokenForm
from apps.accounts.services import api_token_issue, api_token_revoke, login_unlock
from apps.core.errors import ServiceError
from apps.core.htmx import render_page


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
