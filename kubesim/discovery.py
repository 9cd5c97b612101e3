"""Discovery documents: ``/version``, ``/apis`` (APIGroupList) and ``/api/v1``, ``/apis/<g>/<v>`` (APIResourceList)."""

from __future__ import annotations

from . import resources

KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim", "gitCommit": "kubesim",
                "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
                "compiler": "gc", "platform": "linux/amd64"}


def discovery_groups() -> dict:
    """``/apis``: an APIGroupList of every non-core group served."""
    groups: dict[str, list[str]] = {}
    for group, version in resources.group_versions():
        if group:
            groups.setdefault(group, [])
            if version not in groups[group]:
                groups[group].append(version)
    out = []
    for name, versions in groups.items():
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        out.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "approval": ["get", "patch", "update"],
                      "finalize": ["update"], "token": ["create"], "scale": ["get", "patch", "update"]}


def discovery_resources(group: str, version: str) -> dict | None:
    """``/api/v1`` or ``/apis/<g>/<v>``: the APIResourceList kubectl maps kinds and short names from."""
    types = [rt for rt in resources.all_types() if rt.group == group and rt.version == version]
    if not types:
        return None
    out = []
    for rt in types:
        entry = {"name": rt.plural, "singularName": rt.singular_name, "namespaced": rt.namespaced, "kind": rt.kind,
                 "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        out.append(entry)
        for sub in rt.subresources:
            kind = {"token": ("TokenRequest", "authentication.k8s.io", "v1"), "scale": ("Scale", "autoscaling", "v1")}.get(sub)
            sub_entry = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                         "kind": kind[0] if kind else rt.kind, "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"])}
            if kind:
                sub_entry["group"], sub_entry["version"] = kind[1], kind[2]
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": out}

