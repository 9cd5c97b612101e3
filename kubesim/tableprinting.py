"""Server-side Table printing (``kubectl get``): the columns of the real printers for the kinds kubesim serves."""

from __future__ import annotations

import time

from .resources import ResourceType


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, the AGE column."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: dict) -> str:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    import calendar

    try:
        created = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    return human_duration(time.time() - created)


def _quota_pairs(values: dict, used: dict) -> str:
    return ", ".join(f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(values.items()))


def _pod_cells(o: dict) -> list:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    phase = status.get("reason") or status.get("phase") or ""
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    return [f"{ready}/{len(spec.get('containers') or [])}", phase, restarts]


def _csr_condition(o: dict) -> str:
    conds = [c.get("type") for c in (o.get("status") or {}).get("conditions") or [] if c.get("status", "True") == "True"]
    text = ",".join(conds) if conds else "Pending"
    if (o.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text


def _duration_text(seconds) -> str:
    return human_duration(seconds) if isinstance(seconds, int) else "<none>"


# (columns after NAME, cell function); "Age" placement follows the real printers.
_TABLES = {
    ("", "namespaces"): (["Status", "Age"], lambda o: [(o.get("status") or {}).get("phase", ""), _age(o)]),
    ("", "pods"): (["Ready", "Status", "Restarts", "Age"], lambda o: _pod_cells(o) + [_age(o)]),
    ("", "resourcequotas"): (["Age", "Request", "Limit"], lambda o: [
        _age(o),
        _quota_pairs({k: v for k, v in ((o.get("status") or {}).get("hard") or {}).items() if not k.startswith("limits.")},
                     (o.get("status") or {}).get("used") or {}),
        _quota_pairs({k: v for k, v in ((o.get("status") or {}).get("hard") or {}).items() if k.startswith("limits.")},
                     (o.get("status") or {}).get("used") or {})]),
    ("", "configmaps"): (["Data", "Age"], lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)]),
    ("", "secrets"): (["Type", "Data", "Age"], lambda o: [o.get("type", ""), len(o.get("data") or {}), _age(o)]),
    ("", "serviceaccounts"): (["Secrets", "Age"], lambda o: [len(o.get("secrets") or []), _age(o)]),
    ("", "persistentvolumeclaims"): (["Status", "Volume", "Capacity", "Access Modes", "StorageClass", "Age"], lambda o: [
        (o.get("status") or {}).get("phase", ""), (o.get("spec") or {}).get("volumeName", ""),
        ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
        ",".join((o.get("status") or {}).get("accessModes") or []), (o.get("spec") or {}).get("storageClassName") or "<unset>",
        _age(o)]),
    ("rbac.authorization.k8s.io", "rolebindings"): (["Role", "Age"], lambda o: [
        f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}", _age(o)]),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (["Role", "Age"], lambda o: [
        f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}", _age(o)]),
    ("rbac.authorization.k8s.io", "clusterroles"): (["Created At"], lambda o: [(o.get("metadata") or {}).get("creationTimestamp", "")]),
    ("rbac.authorization.k8s.io", "roles"): (["Created At"], lambda o: [(o.get("metadata") or {}).get("creationTimestamp", "")]),
    ("certificates.k8s.io", "certificatesigningrequests"): (
        ["Age", "SignerName", "Requestor", "RequestedDuration", "Condition"], lambda o: [
            _age(o), (o.get("spec") or {}).get("signerName", ""), (o.get("spec") or {}).get("username", ""),
            _duration_text((o.get("spec") or {}).get("expirationSeconds")), _csr_condition(o)]),
    ("apps", "deployments"): (["Ready", "Up-to-date", "Available", "Age"], lambda o: [
        f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 0)}",
        (o.get("status") or {}).get("updatedReplicas", 0), (o.get("status") or {}).get("availableReplicas", 0), _age(o)]),
}
_COLUMN_TYPES = {"Age": "string", "Restarts": "integer", "Data": "integer", "Secrets": "integer",
                 "Up-to-date": "integer", "Available": "integer", "Created At": "date"}


def wants_table(accept: str) -> bool:
    """kubectl get asks ``application/json;as=Table;v=v1;g=meta.k8s.io`` first."""
    return "as=Table" in (accept or "") and "g=meta.k8s.io" in accept


def to_table(rt: ResourceType, items: list[dict], list_meta: dict, include_object: str = "Metadata") -> dict:
    """A meta.k8s.io/v1 Table, like the real server-side printers (for the kinds in ``_TABLES``; NAME/AGE otherwise)."""
    extra, cells = _TABLES.get((rt.group, rt.plural), (["Age"], lambda o: [_age(o)]))
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.",
                "priority": 0}]
    columns += [{"name": c, "type": _COLUMN_TYPES.get(c, "string"), "format": "", "description": c, "priority": 0} for c in extra]
    rows = []
    for obj in items:
        if include_object == "Object":
            row_obj = obj
        elif include_object == "None":
            row_obj = None
        else:
            row_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
        row = {"cells": [(obj.get("metadata") or {}).get("name", "")] + cells(obj)}
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns, "rows": rows}
