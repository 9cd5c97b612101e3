"""NamespaceLifecycle: 404 for a missing namespace, 403 in a Terminating one, immortal namespaces.

As staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go.
"""

from __future__ import annotations

from .. import errors, resources
from .plugin import AdmissionRequest, Plugin, forbidden, object_name

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle(Plugin):
    operations = frozenset({"CREATE", "UPDATE", "DELETE"})

    def __init__(self, store, authorizer):
        super().__init__(store, authorizer)
        self.NS = resources.lookup("", "v1", "namespaces")

    def admit(self, a: AdmissionRequest) -> None:
        operation, rt, obj, old, namespace = a.operation, a.rt, a.obj, a.old, a.namespace
        is_namespace = rt.group == "" and rt.plural == "namespaces"
        if is_namespace:
            name = object_name(obj or old, "")
            if operation == "DELETE" and name in IMMORTAL_NAMESPACES:
                raise errors.forbidden("", "namespaces", name, "this namespace may not be deleted")
            return
        if not namespace or operation == "DELETE":
            return
        if rt.group == "authorization.k8s.io" and rt.plural == "localsubjectaccessreviews":
            return  # access reviews must not reveal whether a namespace exists
        ns = self.store.get(self.NS, None, namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if operation == "CREATE" and (ns.get("status") or {}).get("phase") == "Terminating":
            err = forbidden(rt, obj, f"unable to create new content in namespace {namespace} because it is being terminated")
            err.details.setdefault("causes", []).append({
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            })
            raise err
