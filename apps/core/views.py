"""Project-wide views: the API's root listing and the error handlers.

Every path under ``/api/`` answers JSON, errors included: a REST client
that mistypes a URL gets ``{"detail": ...}``, never an HTML page.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, URLPattern, URLResolver, reverse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": f"no API endpoint at {request.path[:200]}; GET /api/v1/ lists them"}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "internal error; it is logged, try again or report the X-Request-ID"}, status=500)
    return render(request, "500.html", status=500)


def _collection_names(patterns, prefix: str = "") -> list[str]:
    """Route names of every collection (``<basename>-list``) under the API's URL patterns."""
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names += _collection_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name and pattern.name.endswith("-list"):
            names.append(pattern.name)
    return names


@extend_schema(summary="List the API's resources", tags=["api"],
               responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}})
@api_view(["GET"])
def api_root(request):
    """``{resource: url}`` for every collection of API v1 (the map; each resource checks its own access)."""
    from portal import api_urls

    resources = {}
    for name in sorted(set(_collection_names(api_urls.urlpatterns))):
        try:
            url = reverse(name)
        except NoReverseMatch:  # a collection that needs URL arguments (e.g. a team's members) is not listed
            continue
        resources[url.removeprefix(reverse("api-root")).strip("/")] = request.build_absolute_uri(url)
    resources["schema"] = request.build_absolute_uri(reverse("api-schema"))
    return Response(resources)


