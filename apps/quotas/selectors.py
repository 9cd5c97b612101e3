"""What the request pages show of a quota change: the numbers, the budget, and the live diff."""

from __future__ import annotations

import copy
import difflib
from collections import defaultdict
from decimal import Decimal

import yaml

from apps.approvals.models import Request
from apps.clusters import kube
from apps.core import quantities
from apps.core.errors import ClusterError
from apps.namespaces.manifests import LIMIT_RANGE_NAME, QUOTA_NAME, render_bundle
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import team_memberships_for_bundle
from apps.quotas.budgets import NOT_LIVE, rows_against_budget, sum_quotas
from apps.quotas.models import TeamBudget

# The parts of the two objects a quota change rewrites (the rest is the cluster's or the portal's labels).
_COMPARED = {("ResourceQuota", QUOTA_NAME): ("spec", "hard"), ("LimitRange", LIMIT_RANGE_NAME): ("spec", "limits")}


def _parse(raw) -> Decimal | None:
    try:
        return quantities.parse(raw)
    except (TypeError, ValueError):
        return None


def quota_change_rows(req: Request) -> list[dict]:
    """Per resource: the quota now, the one asked for, what is in use, and whether the new value is below that use."""
    payload = req.payload or {}
    previous, asked = payload.get("previous") or {}, payload.get("quota") or {}
    used = (req.namespace.quota_used or {}) if req.namespace_id else {}
    rows = []
    order = list(quantities.QUOTA_RESOURCES)
    for resource in sorted(set(previous) | set(asked), key=lambda r: (order.index(r) if r in order else len(order), r)):
        new, in_use = _parse(asked.get(resource)), _parse(used.get(resource))
        rows.append({"resource": resource, "current": previous.get(resource, "—"), "requested": asked.get(resource, "removed"),
                     "used": used.get(resource, "—"), "changed": previous.get(resource) != asked.get(resource),
                     "below_usage": new is not None and in_use is not None and new < in_use})
    return rows


def _desired(req: Request) -> dict[tuple[str, str], dict]:
    namespace = copy.copy(req.namespace)
    namespace.quota = req.payload.get("quota") or {}
    namespace.limit_defaults = req.payload.get("limit_defaults") or {}
    objects = render_bundle(namespace, team_memberships_for_bundle(namespace.team))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects if (o["kind"], o["metadata"]["name"]) in _COMPARED}


def _compared_text(obj: dict | None, kind: str, name: str) -> list[str]:
    if obj is None:
        return [f"# {kind} {name}: not on the cluster\n"]
    part = obj
    for key in _COMPARED[(kind, name)]:
        part = (part or {}).get(key)
    return yaml.safe_dump({"kind": kind, "name": name, _COMPARED[(kind, name)][-1]: part}, sort_keys=True).splitlines(keepends=True)


def quota_request_preflight(req: Request) -> list:
    """The cluster's dry-run verdict on the ResourceQuota and LimitRange approving ``req`` applies."""
    if req.namespace_id is None:
        return []
    return kube.preflight(req.cluster, list(_desired(req).values()))


def quota_request_preview(req: Request) -> str:
    """While undecided: a unified diff of the live ResourceQuota and LimitRange against what approving applies.

    Read from the cluster (so a hand-edited quota shows up); once decided,
    the change as recorded (no cluster call).
    """
    if req.namespace_id is None:
        return ""
    desired = _desired(req)
    if req.state != Request.State.SUBMITTED:
        before = yaml.safe_dump({"quota": req.payload.get("previous") or {}}, sort_keys=True).splitlines(keepends=True)
        after = yaml.safe_dump({"quota": req.payload.get("quota") or {}}, sort_keys=True).splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, "quota before", "quota after"))
    diff = []
    for (kind, name), want in desired.items():
        try:
            live = kube.get_object(req.cluster, want["apiVersion"], kind, name, req.namespace.name)
        except ClusterError as exc:
            return f"# could not read the live objects from cluster {req.cluster.name}: {exc}\n"
        diff.extend(difflib.unified_diff(_compared_text(live, kind, name), _compared_text(want, kind, name),
                                         f"live/{kind}/{name}", f"approved/{kind}/{name}"))
    return "".join(diff) or "# the live objects already match what approving applies\n"


def quota_request_budgets(requests: list[Request]) -> dict[int, list[dict]]:
    """For each request, the team's budget on the namespace's cluster with this change in place.

    Two queries for a whole page, whatever its size: the budgets of every
    (team, cluster) on it and the live namespaces they cover.
    """
    pairs = {(r.team_id, r.cluster_id) for r in requests if r.namespace_id and r.cluster_id}
    if not pairs:
        return {}
    budgets = {(b.team_id, b.cluster_id): b for b in TeamBudget.objects.filter(
        team_id__in={t for t, _ in pairs}, cluster_id__in={c for _, c in pairs}) if (b.team_id, b.cluster_id) in pairs}
    if not budgets:
        return {}
    held: dict[tuple[int, int], list[tuple[int, dict]]] = defaultdict(list)
    for pk, team_id, cluster_id, quota in (Namespace.objects.filter(team_id__in={t for t, _ in budgets},
                                                                     cluster_id__in={c for _, c in budgets})
                                           .exclude(phase__in=NOT_LIVE).values_list("pk", "team_id", "cluster_id", "quota")):
        held[(team_id, cluster_id)].append((pk, quota))
    rows: dict[int, list[dict]] = {}
    for req in requests:
        budget = budgets.get((req.team_id, req.cluster_id))
        if budget is None or not req.namespace_id:
            continue
        others = [quota for pk, quota in held[(req.team_id, req.cluster_id)] if pk != req.namespace_id]
        rows[req.pk] = [{"resource": r["resource"], "granted": r["allocated"], "asked": r["requested"], "budget": r["budget"],
                         "percent": r["percent"], "over": r["over"], "left": r["left"]}
                        for r in rows_against_budget(budget, sum_quotas(others), req.payload.get("quota") or {})]
    return rows


def team_budget_overview(team) -> list[dict]:
    """Per cluster: the team's budget there (allocation and usage are the usage block's, from the last sync). Two queries."""
    from apps.clusters.models import Cluster

    budgets = {b.cluster_id: b for b in TeamBudget.objects.filter(team=team)}
    return [{"cluster": cluster, "budget": budgets.get(cluster.pk)} for cluster in Cluster.objects.order_by("name")]
