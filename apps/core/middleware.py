import re
import uuid

from apps.core.context import acting_via

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Tag each request with its channel (ui/api) and a request id for the audit log.

    The request id is always the portal's own (a fresh uuid): a client-chosen id
    could collide with, or impersonate, another request's audit rows. A
    client-supplied ``X-Request-ID`` that is short and plain is kept separately
    (audit ``client_request_id``) so a CI system can still correlate its calls;
    anything else it sends there is dropped. The response carries the portal's
    id in ``X-Request-ID`` and echoes the kept client id in ``X-Client-Request-ID``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        client_request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else ""
        request_id = uuid.uuid4().hex
        via = "api" if request.path.startswith("/api/") else "ui"
        request.request_id = request_id
        request.client_request_id = client_request_id
        with acting_via(via, request_id, client_request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        if client_request_id:
            response["X-Client-Request-ID"] = client_request_id
        return response
