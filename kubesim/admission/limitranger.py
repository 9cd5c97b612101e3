"""LimitRanger: a namespace's Container LimitRanges default and bound each container's requests and limits.

As plugin/pkg/admission/limitranger/admission.go (pods only; the defaults it set are named in an annotation).
"""

from __future__ import annotations

from .. import quantity, resources
from .plugin import AdmissionRequest, Plugin, forbidden

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"


class LimitRanger(Plugin):
    operations = frozenset({"CREATE"})

    def __init__(self, store, authorizer):
        super().__init__(store, authorizer)
        self.LIMITRANGES = resources.lookup("", "v1", "limitranges")

    def admit(self, a: AdmissionRequest) -> None:
        """Apply Container defaults, then enforce Container min/max (403 like the real plugin)."""
        if not (a.rt.group == "" and a.rt.plural == "pods" and not a.subresource):
            return
        rt, pod, namespace = a.rt, a.obj, a.namespace
        ranges = self._limit_ranges(namespace)
        if not ranges:
            return
        spec = pod.setdefault("spec", {})
        annotations: list[str] = []
        for lr in ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                default_limits, default_requests = self._container_item_defaults(item)
                for key, prefix in (("initContainers", "init container"), ("containers", "container")):
                    for container in spec.get(key) or []:
                        resources_ = container.setdefault("resources", {})
                        set_limits, set_requests = [], []
                        limits = resources_.setdefault("limits", {})
                        for name, value in default_limits.items():
                            if name not in limits:
                                limits[name] = value
                                set_limits.append(name)
                        requests = resources_.setdefault("requests", {})
                        for name, value in default_requests.items():
                            if name not in requests:
                                requests[name] = value
                                set_requests.append(name)
                        if not limits:
                            resources_.pop("limits")
                        if not requests:
                            resources_.pop("requests")
                        if not resources_:
                            container.pop("resources")
                        if set_requests:
                            annotations.append(f"{', '.join(sorted(set_requests))} request for {prefix} {container.get('name', '')}")
                        if set_limits:
                            annotations.append(f"{', '.join(sorted(set_limits))} limit for {prefix} {container.get('name', '')}")
        if annotations:
            meta = pod.setdefault("metadata", {})
            meta.setdefault("annotations", {})[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(annotations)
        problems: list[str] = []
        for lr in ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
                    res = container.get("resources") or {}
                    requests = quantity.resource_list(res.get("requests"))
                    limits = quantity.resource_list(res.get("limits"))
                    for name, minimum in sorted(quantity.resource_list(item.get("min")).items()):
                        if name not in requests:
                            problems.append(f"minimum {name} usage per Container is {minimum}.  No request is specified")
                        elif requests[name] < minimum:
                            problems.append(f"minimum {name} usage per Container is {minimum}, but request is {requests[name]}")
                    for name, maximum in sorted(quantity.resource_list(item.get("max")).items()):
                        if name not in limits:
                            problems.append(f"maximum {name} usage per Container is {maximum}.  No limit is specified")
                        elif maximum < limits[name]:
                            problems.append(f"maximum {name} usage per Container is {maximum}, but limit is {limits[name]}")
        if problems:
            why = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            raise forbidden(rt, pod, why)

    def _limit_ranges(self, namespace: str) -> list[dict]:
        items, _ = self.store.list(self.LIMITRANGES, namespace)
        return items

    @staticmethod
    def _container_item_defaults(item: dict) -> tuple[dict, dict]:
        """(default limits, default requests) of a Container LimitRangeItem, after API defaulting.

        SetDefaults_LimitRangeItem: a missing ``default`` falls back to ``max``, a
        missing ``defaultRequest`` to ``default`` and then ``min``.
        """
        limits = dict(item.get("max") or {})
        limits.update(item.get("default") or {})
        requests = dict(item.get("min") or {})
        requests.update({k: v for k, v in limits.items() if k not in (item.get("defaultRequest") or {})})
        requests.update(item.get("defaultRequest") or {})
        return limits, requests
