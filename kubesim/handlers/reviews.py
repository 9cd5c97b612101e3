"""Create-only kinds that are answered, never stored: access reviews, TokenReview and SelfSubjectReview."""

from __future__ import annotations

from .. import errors
from ..codec import encode_json
from ..errors import StatusError
from ..resources import ResourceType
from ..types import Attributes, UserInfo


class ReviewHandlers:
    """Mixed into :class:`kubesim.handlers.Request`."""

    def virtual(self, rt: ResourceType) -> None:
        if self.info.verb != "create" or self.info.name:
            raise errors.method_not_supported(rt.group, rt.plural, self.info.verb)
        obj = self._body_object(rt)
        spec = obj.get("spec") or {}
        authorizer = self.api.authorizer
        if rt.plural == "selfsubjectreviews":
            u = self.user
            status = {"userInfo": {"username": u.name, "groups": list(u.groups)}}
            if u.uid:
                status["userInfo"]["uid"] = u.uid
            if u.extra:
                status["userInfo"]["extra"] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in u.extra.items()}
            obj["metadata"].setdefault("creationTimestamp", None)
            obj["status"] = status
            return self.h.send_json(201, obj)
        if rt.plural == "tokenreviews":
            token = spec.get("token") or ""
            try:
                u = self.api.authenticator.authenticate(None, {"Authorization": f"Bearer {token}"})
                obj["status"] = {"authenticated": True, "user": {"username": u.name, "uid": u.uid, "groups": list(u.groups)},
                                 "audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]}
            except StatusError:
                obj["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
            return self.h.send_json(201, obj)
        if rt.plural == "selfsubjectrulesreviews":
            ns = spec.get("namespace", "")
            rules = authorizer.rules_for(self.user, ns)
            resource_rules, non_resource_rules = [], []
            for rule in rules:
                if rule.get("nonResourceURLs"):
                    non_resource_rules.append({"verbs": rule.get("verbs", []), "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    resource_rules.append({k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if k in rule})
            obj["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
            return self.h.send_json(201, obj)
        # Access reviews
        if rt.plural == "selfsubjectaccessreviews":
            subject = self.user
        else:
            if not spec.get("user") and not spec.get("groups") and not spec.get("uid"):
                raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueRequired", "field": "spec.user",
                                                              "message": "Required value: at least one of user or group must be specified"}])
            extra = spec.get("extra") or {}
            subject = UserInfo(name=spec.get("user", ""), groups=tuple(spec.get("groups") or ()), uid=spec.get("uid", ""),
                               extra=extra)
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if not ra and not nra:
            raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueRequired", "field": "spec.resourceAttributes",
                                                          "message": "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"}])
        if ra and nra:
            raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueInvalid", "field": "spec.nonResourceAttributes",
                                                          "message": f"Invalid value: {encode_json(nra)}: cannot be specified in combination with resourceAttributes"}])
        if ra:
            ns = ra.get("namespace", "")
            if rt.plural == "localsubjectaccessreviews":
                if ns and ns != self.info.namespace:
                    raise errors.invalid(rt.group, rt.kind, "", [{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes.namespace",
                                                                  "message": f'Invalid value: "{ns}": must match metadata.namespace'}])
                ns = self.info.namespace
            attrs = Attributes(user=subject, verb=ra.get("verb", ""), resource_request=True, api_group=ra.get("group", ""),
                               api_version=ra.get("version", ""), resource=ra.get("resource", ""),
                               subresource=ra.get("subresource", ""), namespace=ns, name=ra.get("name", ""))
        else:
            attrs = Attributes(user=subject, verb=nra.get("verb", ""), resource_request=False, path=nra.get("path", ""))
        allowed, reason = authorizer.authorize(attrs)
        status = {"allowed": bool(allowed)}
        if reason:
            status["reason"] = reason
        obj["status"] = status
        obj["metadata"].setdefault("creationTimestamp", None)
        self.h.send_json(201, obj)
