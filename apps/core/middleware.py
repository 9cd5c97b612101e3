import re
import uuid

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
