"""List-based drift detection: one pass per cluster, the way Kubernetes controllers use informers.

Per cluster, one paginated, label-selected list per kind the portal manages
(Namespaces, ResourceQuotas, LimitRanges, NetworkPolicies, RoleBindings)
gives a snapshot of everything the portal owns there. The desired bundle of
every Ready namespace due for a check is rendered from the database (batched:
a handful of queries per pass, whatever the fleet size) and compared with the
snapshot in memory, on the fields the portal sets only (``_same``: defaulted
and server-set fields never count as drift). Namespaces that differ are handed
to the usual reconcile (``check_drift=True``), which reads them back and
repairs them, audited; everything else just records the check and the quota
usage the snapshot carried (the usage history takes it too, through
``signals.quotas_listed``, instead of listing the cluster again). No
per-namespace GET, no write for a fleet in order.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Min, Q
from django.utils import timezone

from apps.approvals.models import Request
from apps.clusters import kube
from apps.core.errors import ClusterError
from apps.namespaces import manifests, signals
from apps.namespaces.models import Namespace
from apps.namespaces.services import _same
from apps.teams.models import Membership

log = logging.getLogger(__name__)

# (collection path, kind): every kind a bundle holds, listed across the cluster.
MANAGED_KINDS = [
    ("/api/v1/namespaces", "Namespace"),
    ("/api/v1/resourcequotas", "ResourceQuota"),
    ("/api/v1/limitranges", "LimitRange"),
    ("/apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicy"),
    ("/apis/rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding"),
]
PAGE_SIZE = 500


@dataclass
class DriftPass:
    """What one pass over a cluster found."""

    checked: int = 0
    drifted: list[int] = field(default_factory=list)
    list_calls: int = 0
    seconds: float = 0.0
    error: str = ""


def cluster_snapshot(cluster, calls: list) -> dict[tuple[str, str, str], dict]:
    """Everything the portal manages on ``cluster``: (kind, namespace, name) -> live object."""
    selector = f"{manifests.MANAGED_BY_LABEL}={manifests.MANAGED_BY}"
    snapshot = {}
    for path, kind in MANAGED_KINDS:
        for item in kube.list_pages(cluster, path, action=f"list {kind}", label_selector=selector, page_size=PAGE_SIZE, calls=calls):
            meta = item.get("metadata") or {}
            snapshot[(kind, meta.get("namespace", ""), meta.get("name", ""))] = item
    return snapshot


def _bundles(rows: list[Namespace]) -> dict[int, list[dict]]:
    """The desired bundle of every row: two queries for all of them (memberships, origin requests)."""
    members = defaultdict(list)
    for membership in (Membership.objects.filter(team_id__in={r.team_id for r in rows}).select_related("user")
                       .order_by("user__username")):
        members[membership.team_id].append(membership)
    origins = dict(Request.objects.filter(namespace_id__in=[r.pk for r in rows], kind=Request.Kind.NAMESPACE)
                   .values("namespace_id").annotate(first=Min("pk")).values_list("namespace_id", "first"))
    return {r.pk: manifests.render_bundle(r, members[r.team_id], request_id=origins.get(r.pk)) for r in rows}


def namespace_differences(objects: list[dict], snapshot: dict, namespace_name: str) -> list[str]:
    """What of the bundle the snapshot lacks or holds differently, and bindings the portal no longer wants."""
    differences = []
    for obj in objects:
        meta = obj["metadata"]
        live = snapshot.get((obj["kind"], meta.get("namespace", ""), meta["name"]))
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        if live is None or not _same(body, live):
            differences.append(manifests.object_ref(obj))
    wanted = {o["metadata"]["name"] for o in objects if o["kind"] == "RoleBinding"}
    differences += [f"RoleBinding/{namespace_name}/{name} (no longer a member)"
                    for (kind, ns, name) in snapshot if kind == "RoleBinding" and ns == namespace_name and name not in wanted]
    return differences


def cluster_drift_pass(cluster, namespace_ids: list[int] | None = None) -> DriftPass:
    """Compare the Ready namespaces of ``cluster`` (``namespace_ids``, or all) with one snapshot of it.

    Rows a worker holds right now are skipped (their apply decides). The
    check is recorded on every row compared (``quota_observed_at``, with the
    quota usage from the snapshot); the drifted ones are returned for the
    reconcile to repair.
    """
    started = time.perf_counter()
    result = DriftPass()
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    rows_qs = Namespace.objects.filter(free, cluster=cluster, phase=Namespace.Phase.READY).select_related("team", "owner")
    if namespace_ids is not None:
        rows_qs = rows_qs.filter(pk__in=namespace_ids)
    rows = list(rows_qs)
    if not rows:
        return result
    calls: list = []
    try:
        snapshot = cluster_snapshot(cluster, calls)
    except ClusterError as exc:
        result.error, result.list_calls = str(exc), len(calls)
        log.warning("drift pass on %s: cannot list: %s", cluster.name, exc)
        return result
    quotas = [obj for (kind, _, _), obj in snapshot.items() if kind == "ResourceQuota"]
    signals.quotas_listed.send(sender=Namespace, cluster=cluster, quotas=quotas, list_calls=len(calls))
    bundles = _bundles(rows)
    fine = []
    for row in rows:
        differences = namespace_differences(bundles[row.pk], snapshot, row.name)
        if differences:
            result.drifted.append(row.pk)
            log.warning("namespace %s drifted on %s: %s", row.name, cluster.name, ", ".join(differences[:5]))
            continue
        quota = snapshot.get(("ResourceQuota", row.name, manifests.QUOTA_NAME)) or {}
        row.quota_used = (quota.get("status") or {}).get("used", row.quota_used)
        row.quota_observed_at = now
        fine.append(row)
    Namespace.objects.bulk_update(fine, ["quota_used", "quota_observed_at"], batch_size=1000)
    result.checked, result.list_calls, result.seconds = len(rows), len(calls), time.perf_counter() - started
    return result
