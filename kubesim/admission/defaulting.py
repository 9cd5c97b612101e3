"""API defaulting of pods (SetDefaults_Pod), run as a step of kubesim's admission chain.

The real server defaults while decoding the body, before admission, so
LimitRanger and ResourceQuota see the defaulted requests.
"""

from __future__ import annotations

from .plugin import AdmissionRequest, Plugin


class PodDefaulting(Plugin):
    operations = frozenset({"CREATE"})

    def admit(self, a: AdmissionRequest) -> None:
        if a.rt.group == "" and a.rt.plural == "pods" and not a.subresource:
            default_container_requests(a.obj)


def default_container_requests(pod: dict) -> None:
    """A limit without a request makes the request equal the limit."""
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            res = container.get("resources") or {}
            limits = res.get("limits") or {}
            if not limits:
                continue
            requests = res.setdefault("requests", {})
            for name, value in limits.items():
                requests.setdefault(name, value)
