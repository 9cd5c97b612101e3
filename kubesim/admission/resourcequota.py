"""ResourceQuota: a create that would exceed a namespace's quota, or lacks the requests/limits it counts, is refused.

As staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go; usage comes from
:mod:`kubesim.controllers`, which also keeps each quota's ``status.used``.
"""

from __future__ import annotations

from .. import controllers, quantity, resources
from .plugin import AdmissionRequest, Plugin, forbidden


class ResourceQuota(Plugin):
    operations = frozenset({"CREATE"})

    def __init__(self, store, authorizer):
        super().__init__(store, authorizer)
        self.RQ = resources.lookup("", "v1", "resourcequotas")

    def admit(self, a: AdmissionRequest) -> None:
        """Reject a create that lacks required requests/limits or would exceed a quota."""
        if a.subresource or not a.rt.namespaced or not a.namespace:
            return
        rt, obj, namespace = a.rt, a.obj, a.namespace
        quotas, _ = self.store.list(self.RQ, namespace)
        if not quotas:
            return
        is_pod = rt.group == "" and rt.plural == "pods"
        delta = controllers.object_usage(rt, obj)
        checks = []
        for quota in quotas:
            hard = quantity.resource_list(((quota.get("status") or {}).get("hard")) or (quota.get("spec") or {}).get("hard"))
            matched = controllers.matching_resources(rt, hard.keys())
            if not matched:
                continue
            if is_pod:
                missing = self._pod_constraints(obj, matched)
                if missing:
                    raise forbidden(rt, obj, f"failed quota: {quota['metadata']['name']}: {missing}")
            checks.append((quota, hard, matched))
        for quota, hard, matched in checks:
            requested = {k: delta[k] for k in matched if k in delta}
            if not requested:
                continue
            used = controllers.namespace_usage(self.store, namespace, requested.keys())
            exceeded = sorted(k for k, v in requested.items() if hard[k] < used.get(k, quantity.ZERO) + v)
            if exceeded:
                raise forbidden(rt, obj, "exceeded quota: {}, requested: {}, used: {}, limited: {}".format(
                    quota["metadata"]["name"],
                    quantity.print_list({k: requested[k] for k in exceeded}),
                    quantity.print_list({k: used.get(k, quantity.ZERO) for k in exceeded}),
                    quantity.print_list({k: hard[k] for k in exceeded}),
                ))

    @staticmethod
    def _pod_constraints(pod: dict, matched: list[str]) -> str:
        """podEvaluator.Constraints: every container must state what a quota limits (cpu/memory)."""
        required = {k for k in matched if k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")}
        if not required:
            return ""
        missing: dict[str, set[str]] = {}
        spec = pod.get("spec") or {}
        for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
            res = container.get("resources") or {}
            have = set(controllers.compute_usage(quantity.resource_list(res.get("requests")),
                                                 quantity.resource_list(res.get("limits"))))
            for name in required - have:
                missing.setdefault(name, set()).add(container.get("name", ""))
        if not missing:
            return ""
        return "must specify " + "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))
