"""RBAC escalation checks: a user may only grant, in a Role or a binding, the permissions they hold.

Upstream this is the RBAC registry, not an admission plugin: pkg/registry/rbac/{role,clusterrole,rolebinding,
clusterrolebinding}/policybased, pkg/registry/rbac/escalation_check.go and pkg/registry/rbac/validation/rule.go.
"""

from __future__ import annotations

import copy

from .. import errors, rbac
from .plugin import AdmissionRequest, Plugin, object_name


class RBACEscalation(Plugin):
    operations = frozenset({"CREATE", "UPDATE"})

    def admit(self, a: AdmissionRequest) -> None:
        """A user may only grant what they hold, unless they have ``escalate``/``bind`` (or are system:masters)."""
        if a.rt.group != rbac.RBAC_GROUP or a.subresource:
            return
        operation, rt, obj, old, user, namespace = a.operation, a.rt, a.obj, a.old, a.user, a.namespace
        if rbac.escalation_allowed(user):
            return
        if operation == "UPDATE" and self._only_gc_fields_changed(obj, old):
            return
        name = object_name(obj, "")
        if rt.plural in ("roles", "clusterroles"):
            if self.authorized(user, "escalate", rt.plural, name, namespace, rbac.RBAC_GROUP):
                return
            if rt.plural == "clusterroles" and obj.get("aggregationRule"):
                if rbac.confirm_no_escalation(self.authorizer, user, "", rbac.FULL_AUTHORITY):
                    raise errors.forbidden(rt.group, rt.plural, name, "must have cluster-admin privileges to use the aggregationRule")
            why = rbac.confirm_no_escalation(self.authorizer, user, namespace, obj.get("rules") or [])
            if why:
                raise errors.forbidden(rt.group, rt.plural, name, why)
            return
        if rt.plural in ("rolebindings", "clusterrolebindings"):
            role_ref = obj.get("roleRef") or {}
            ref_resource = {"Role": "roles", "ClusterRole": "clusterroles"}.get(role_ref.get("kind"))
            if ref_resource and self.authorized(user, "bind", ref_resource, role_ref.get("name", ""), namespace,
                                                role_ref.get("apiGroup", rbac.RBAC_GROUP)):
                return
            try:
                rules = self.authorizer.role_reference_rules(role_ref, namespace)
            except rbac.RuleResolutionError as exc:
                raise errors.forbidden(rt.group, rt.plural, name, str(exc)) from None
            why = rbac.confirm_no_escalation(self.authorizer, user, namespace, rules)
            if why:
                raise errors.forbidden(rt.group, rt.plural, name, why)

    @staticmethod
    def _only_gc_fields_changed(obj: dict, old: dict | None) -> bool:
        """IsOnlyMutatingGCFields: ownerReferences/finalizers are the only difference."""
        if old is None:
            return False

        def strip(o):
            o = copy.deepcopy(o)
            meta = o.get("metadata") or {}
            for key in ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation",
                        "creationTimestamp", "uid"):
                meta.pop(key, None)
            o.pop("status", None)
            return o

        return strip(obj) == strip(old)

