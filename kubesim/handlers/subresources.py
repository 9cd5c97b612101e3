"""Subresources: what a status, approval or finalize write stores, and ServiceAccount ``token`` (TokenRequest)."""

from __future__ import annotations

import time

from .. import errors
from ..codec import decode_body
from ..resources import ResourceType
from ..store import clone, now_rfc3339


class SubresourceHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    def _status_update_target(self, rt: ResourceType, obj: dict, old: dict) -> dict:
        """The object as it will be stored after a subresource write (for validation/admission)."""
        sub = self.info.subresource
        if sub == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = obj["status"]
            new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            return new
        if sub == "approval":
            new = clone(old)
            new.setdefault("status", {})["conditions"] = (obj.get("status") or {}).get("conditions") or []
            new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            return new
        if sub == "finalize":
            new = clone(old)
            new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
            return new
        if "status" in rt.subresources:
            new = clone(obj)
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
            return new
        return obj

    def token_request(self, rt: ResourceType) -> None:
        sa = self.api.store.get(rt, self.info.namespace, self.info.name)
        if sa is None:
            raise errors.not_found(rt.group, rt.plural, self.info.name)
        body = decode_body(self.body, self.h.headers.get("Content-Type", "application/json")) if self.body else {}
        if body.get("kind") not in (None, "TokenRequest"):
            raise errors.bad_request(f"expected TokenRequest, got {body.get('kind')}")
        spec = body.get("spec") or {}
        seconds = spec.get("expirationSeconds") or 3600
        if not isinstance(seconds, int) or seconds < 600:
            raise errors.StatusError(422, "Invalid",
                                     f'TokenRequest.authentication.k8s.io "{self.info.name}" is invalid: spec.expirationSeconds: '
                                     f'Invalid value: {seconds}: may not specify a duration less than 10 minutes',
                                     {"name": self.info.name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                                      "causes": [{"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                                                  "message": f"Invalid value: {seconds}: may not specify a duration less than 10 minutes"}]})
        seconds = min(seconds, 48 * 3600)
        token = self.api.ca.issue_token(self.info.namespace, self.info.name, sa["metadata"]["uid"], seconds)
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
        self.h.send_json(201, {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": self.info.name, "namespace": self.info.namespace,
                         "creationTimestamp": None},
            "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                     "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": exp},
        })


def validate_approval(rt: ResourceType, obj: dict) -> None:
    """CSR condition rules from pkg/apis/certificates/validation (Approved and Denied are exclusive)."""
    conds = (obj.get("status") or {}).get("conditions") or []
    causes = []
    types = [c.get("type") for c in conds if isinstance(c, dict)]
    for i, c in enumerate(conds):
        if not isinstance(c, dict) or not c.get("type"):
            causes.append({"reason": "FieldValueRequired", "field": f"status.conditions[{i}].type", "message": "Required value"})
            continue
        if c["type"] in ("Approved", "Denied") and c.get("status") not in (None, "True"):
            causes.append({"reason": "FieldValueNotSupported", "field": f"status.conditions[{i}].status",
                           "message": f'Unsupported value: "{c.get("status")}": supported values: "True"'})
    if "Approved" in types and "Denied" in types:
        causes.append({"reason": "FieldValueInvalid", "field": "status.conditions",
                       "message": 'Invalid value: "Approved": Approved and Denied conditions are mutually exclusive'})
    if types.count("Approved") > 1:
        causes.append({"reason": "FieldValueDuplicate", "field": "status.conditions", "message": 'Duplicate value: "Approved"'})
    if causes:
        raise errors.invalid(rt.group, rt.kind, obj["metadata"]["name"], causes)
    now = now_rfc3339()
    for c in conds:
        c.setdefault("status", "True")
        c.setdefault("lastUpdateTime", now)
        c.setdefault("lastTransitionTime", now)
