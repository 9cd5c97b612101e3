import re
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse

from apps.core.context import acting_via

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Tag each request with its channel (ui/api) and a request id for the audit log.

    A client-supplied ``X-Request-ID`` is kept when it is short and plain, so a
    CI system can correlate its calls with our audit rows.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        via = "api" if request.path.startswith("/api/") else "ui"
        request.request_id = request_id
        with acting_via(via, request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


# Deeper JSON than this is refused before any parser sees it: no API body
# needs more than a handful of levels, and Python's json recursion (and
# DRF's walk over the result) is not where a client should find a limit.
MAX_JSON_DEPTH = 32


def _json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (a scan, not a parse)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class BadInputMiddleware:
    """Refuse input no view should ever see, with a clear 4xx instead of a 500 deep inside.

    * NUL bytes in the path, the query string or the body (PostgreSQL text
      cannot hold them: the ORM would fail with a 500);
    * bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413);
    * JSON nested deeper than ``MAX_JSON_DEPTH``.

    Under ``/api/`` the answer is JSON ``{"detail": ...}`` like every API error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = self._problem(request)
        if problem is not None:
            status, message = problem
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=status)
            return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _problem(request) -> tuple[int, str] | None:
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in raw_query or "%00" in raw_query.lower():
            return 400, "NUL characters are not allowed in the URL"
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, "Content-Length is not a number"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return 413, f"request body too large: {length} bytes, at most {limit} are accepted"
        if request.method in ("GET", "HEAD", "OPTIONS") or not length:
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return 413, f"request body too large: at most {limit} bytes are accepted"
        form = request.content_type == "application/x-www-form-urlencoded"
        if b"\x00" in body or b"\\u0000" in body or (form and b"%00" in body):
            return 400, "NUL characters are not allowed in the request body"
        if request.content_type == "application/json" and _json_depth_exceeds(body, MAX_JSON_DEPTH):
            return 400, f"JSON nested more than {MAX_JSON_DEPTH} levels deep is not accepted"
        return None
