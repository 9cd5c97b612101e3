"""htmx helpers for page views (House style point 9).

A page is one template; its swappable regions are ``{% partialdef %}`` blocks.
Views render the whole page for a normal request and just the named partial
(``"page.html#rows"``) when htmx asks, so links and forms keep working without
JavaScript.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect


def is_htmx(request: HttpRequest) -> bool:
    """True for requests htmx made (django-htmx's middleware sets ``request.htmx``).

    History-restore requests want the full page, not a fragment.
    """
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render_page(request: HttpRequest, template: str, context: dict | None = None, *, partial: str | None = None,
                status: int = 200) -> HttpResponse:
    """Render ``template``, or only ``template#partial`` for an htmx request.

    ``Vary: HX-Request`` stops a browser or proxy cache from serving the
    fragment where the full page was asked for (and vice versa).
    """
    name = f"{template}#{partial}" if partial and is_htmx(request) else template
    response = render(request, name, context or {}, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def redirect_or_client_redirect(request: HttpRequest, to: str) -> HttpResponse:
    """Redirect; for htmx a client-side redirect so the whole page changes, not a fragment."""
    if is_htmx(request):
        return HttpResponseClientRedirect(to)
    return redirect(to)
