"""kubesim's admin endpoints for ``system:masters``: ``/kubesim/faults`` (fault rules) and ``/kubesim/requests`` (the request log)."""

from __future__ import annotations

from .. import errors
from ..codec import decode_body


class AdminHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    def admin(self) -> None:
        if "system:masters" not in self.user.groups:
            raise errors.forbidden("", "", "", f'User "{self.user.name}" cannot access the kubesim admin endpoint')
        faults, reqlog = self.api.faults, self.api.request_log
        if self.path == "/kubesim/faults":
            if faults is None:
                raise errors.not_found_path()
            if self.method == "GET":
                return self.h.send_json(200, {"rules": faults.describe()})
            if self.method == "POST":
                spec = decode_body(self.body, self.h.headers.get("Content-Type", "application/json"))
                try:
                    rule = faults.add_rule(**spec)
                except (TypeError, ValueError) as exc:
                    raise errors.bad_request(f"invalid fault rule: {exc}") from None
                return self.h.send_json(201, {"rule": rule})
            if self.method == "DELETE":
                faults.clear()
                return self.h.send_json(200, {"rules": []})
        if self.path == "/kubesim/requests":
            if reqlog is None:
                raise errors.not_found_path()
            if self.method == "GET":
                return self.h.send_json(200, {"entries": reqlog.as_dicts()})
            if self.method == "DELETE":
                reqlog.clear()
                return self.h.send_json(200, {"entries": []})
        raise errors.not_found_path()
