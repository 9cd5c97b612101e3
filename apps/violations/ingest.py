"""Ingest: read what the cluster's policy engines report and bring the stored violations in line.

One pass per cluster: discovery says which engines are there (neither is an
error: nothing to show); constraints and reports are listed page by page;
each reported violation gets a fingerprint; new ones are inserted, ones no
longer reported are resolved, in batches. A pass that finds everything as it
was writes nothing to the database (the time of the check goes to the cache,
which the pages read for freshness). An unreachable cluster is marked
failing, and its violations stay as they were: stale, never "all clear".
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.clusters import kube
from apps.core.errors import ClusterError
from apps.namespaces.models import Namespace
from apps.violations.models import Constraint, IngestState, Source, Violation

log = logging.getLogger(__name__)

GATEKEEPER_CONSTRAINTS = "constraints.gatekeeper.sh/v1beta1"
GATEKEEPER_TEMPLATES = "templates.gatekeeper.sh/v1"
POLICY_REPORTS = "wgpolicyk8s.io/v1alpha2"
REPORTED_RESULTS = ("fail", "error", "warn")  # pass and skip are not violations
BATCH = 2000


def checked_key(cluster_id: int) -> str:
    return f"violations:checked:{cluster_id}"


@dataclass
class Entry:
    source: str
    policy: str
    rule: str
    action: str
    message: str
    object_kind: str = ""
    object_namespace: str = ""
    object_name: str = ""
    severity: str = ""
    category: str = ""

    @property
    def fingerprint(self) -> str:
        key = json.dumps([self.source, self.policy, self.rule, self.object_kind, self.object_namespace, self.object_name,
                          self.message], separators=(",", ":"))
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Snapshot:
    gatekeeper: bool = False
    policy_reports: bool = False
    constraints: dict[tuple[str, str], dict] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entries.setdefault(entry.fingerprint, entry)


@dataclass
class IngestResult:
    cluster: str
    ok: bool
    created: int = 0
    resolved: int = 0
    constraints_changed: int = 0
    error: str = ""

    @property
    def writes(self) -> int:
        return self.created + self.resolved + self.constraints_changed


def _text(value, limit: int) -> str:
    return str(value or "")[:limit]


def _template_descriptions(cluster) -> dict[str, str]:
    """Constraint kind -> the template's description annotation, where the template has one."""
    if kube.served_resources(cluster, GATEKEEPER_TEMPLATES) is None:
        return {}
    descriptions = {}
    for template in kube.list_pages(cluster, f"/apis/{GATEKEEPER_TEMPLATES}/constrainttemplates", action="list constrainttemplates"):
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        kind = (((template.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("names", {}).get("kind", "")
        text = annotations.get("description") or annotations.get("metadata.gatekeeper.sh/title") or ""
        if kind and text:
            descriptions[kind] = text
    return descriptions


def _read_gatekeeper(cluster, snapshot: Snapshot) -> None:
    resources = kube.served_resources(cluster, GATEKEEPER_CONSTRAINTS)
    if resources is None:
        return
    snapshot.gatekeeper = True
    descriptions = _template_descriptions(cluster)
    for resource in resources:
        kind = resource.get("kind", "")
        path = f"/apis/{GATEKEEPER_CONSTRAINTS}/{resource['name']}"
        for constraint in kube.list_pages(cluster, path, action=f"list {resource['name']}"):
            name = (constraint.get("metadata") or {}).get("name", "")
            spec, status = constraint.get("spec") or {}, constraint.get("status") or {}
            action = spec.get("enforcementAction") or "deny"
            listed = status.get("violations") or []
            snapshot.constraints[(kind, name)] = {
                "enforcement_action": _text(action, 16), "total_violations": int(status.get("totalViolations") or 0),
                "listed_violations": len(listed), "audit_timestamp": parse_datetime(status.get("auditTimestamp") or "") if
                status.get("auditTimestamp") else None, "description": descriptions.get(kind, "")}
            for item in listed:
                snapshot.add(Entry(source=Source.GATEKEEPER, policy=_text(f"{kind}/{name}", 253), rule="",
                                   action=_text(item.get("enforcementAction") or action, 16), message=str(item.get("message") or ""),
                                   object_kind=_text(item.get("kind"), 100), object_namespace=_text(item.get("namespace"), 63),
                                   object_name=_text(item.get("name"), 253)))


def _read_policy_reports(cluster, snapshot: Snapshot) -> None:
    resources = kube.served_resources(cluster, POLICY_REPORTS)
    if resources is None:
        return
    snapshot.policy_reports = True
    served = {r["name"] for r in resources}
    for plural in ("policyreports", "clusterpolicyreports"):
        if plural not in served:
            continue
        for report in kube.list_pages(cluster, f"/apis/{POLICY_REPORTS}/{plural}", action=f"list {plural}"):
            report_namespace = (report.get("metadata") or {}).get("namespace", "")
            for result in report.get("results") or []:
                outcome = result.get("result", "")
                if outcome not in REPORTED_RESULTS:
                    continue
                base = dict(source=Source.POLICYREPORT, policy=_text(result.get("policy"), 253), rule=_text(result.get("rule"), 253),
                            action=outcome, message=str(result.get("message") or ""), severity=_text(result.get("severity"), 16),
                            category=_text(result.get("category"), 100))
                # A result names its resources; older reports name one in the report's scope.
                subjects = result.get("resources") or ([report["scope"]] if report.get("scope") else [{}])
                for subject in subjects:
                    snapshot.add(Entry(**base, object_kind=_text(subject.get("kind"), 100),
                                       object_namespace=_text(subject.get("namespace") or report_namespace, 63),
                                       object_name=_text(subject.get("name"), 253)))


def read_cluster(cluster) -> Snapshot:
    """Everything the cluster's policy engines report now (ClusterError when it cannot be read)."""
    snapshot = Snapshot()
    _read_gatekeeper(cluster, snapshot)
    _read_policy_reports(cluster, snapshot)
    return snapshot


def _owners(cluster, entries) -> dict[str, tuple[int, int]]:
    """Namespace name -> (portal namespace id, team id) for the names the entries mention that the portal manages."""
    names = {e.object_namespace or (e.object_name if e.object_kind == "Namespace" else "") for e in entries} - {""}
    owners = {}
    for start in range(0, len(names), BATCH):
        chunk = sorted(names)[start:start + BATCH]
        for pk, name, team_id in (Namespace.objects.filter(cluster=cluster, name__in=chunk)
                                  .exclude(phase=Namespace.Phase.DELETED).values_list("pk", "name", "team_id")):
            owners[name] = (pk, team_id)
    return owners


def _sync_constraints(cluster, seen: dict[tuple[str, str], dict]) -> int:
    stored = {(c.kind, c.name): c for c in Constraint.objects.filter(cluster=cluster)}
    new, changed = [], []
    for key, values in seen.items():
        row = stored.get(key)
        if row is None:
            new.append(Constraint(cluster=cluster, kind=key[0], name=key[1], **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            changed.append(row)
    gone = [row.pk for key, row in stored.items() if key not in seen]
    Constraint.objects.bulk_create(new, batch_size=BATCH)
    Constraint.objects.bulk_update(changed, ["enforcement_action", "total_violations", "listed_violations", "audit_timestamp",
                                             "description"], batch_size=BATCH)
    if gone:
        Constraint.objects.filter(pk__in=gone).delete()
    return len(new) + len(changed) + len(gone)


def _record_failure(cluster, message: str, now: datetime) -> None:
    state, _ = IngestState.objects.get_or_create(cluster=cluster)
    if state.failing_since is None or state.last_error != message:
        state.failing_since = state.failing_since or now
        state.last_error = message[:2000]
        state.save(update_fields=["failing_since", "last_error"])


def ingest_cluster(cluster) -> IngestResult:
    """One ingest pass for ``cluster``; see the module docstring."""
    now = timezone.now()
    try:
        snapshot = read_cluster(cluster)
    except ClusterError as exc:
        _record_failure(cluster, str(exc), now)
        log.warning("violations ingest of %s failed: %s", cluster.name, exc)
        return IngestResult(cluster.name, ok=False, error=str(exc))
    result = IngestResult(cluster.name, ok=True)
    with transaction.atomic():
        open_rows = dict(Violation.objects.filter(cluster=cluster, resolved_at__isnull=True).values_list("fingerprint", "pk"))
        new = [snapshot.entries[fp] for fp in snapshot.entries.keys() - open_rows.keys()]
        gone = [open_rows[fp] for fp in open_rows.keys() - snapshot.entries.keys()]
        owners = _owners(cluster, new)
        rows = []
        for entry in new:
            owner = owners.get(entry.object_namespace or (entry.object_name if entry.object_kind == "Namespace" else ""))
            rows.append(Violation(cluster=cluster, fingerprint=entry.fingerprint, first_seen=now, namespace_id=owner[0] if owner else None,
                                  team_id=owner[1] if owner else None, source=entry.source, policy=entry.policy, rule=entry.rule,
                                  action=entry.action, severity=entry.severity, category=entry.category, message=entry.message,
                                  object_kind=entry.object_kind, object_namespace=entry.object_namespace, object_name=entry.object_name))
        Violation.objects.bulk_create(rows, batch_size=BATCH)
        for start in range(0, len(gone), BATCH):
            Violation.objects.filter(pk__in=gone[start:start + BATCH]).update(resolved_at=now)
        result.created, result.resolved = len(rows), len(gone)
        result.constraints_changed = _sync_constraints(cluster, snapshot.constraints)
        state = IngestState.objects.filter(cluster=cluster).first()
        flags = {"gatekeeper": snapshot.gatekeeper, "policy_reports": snapshot.policy_reports, "failing_since": None, "last_error": ""}
        if state is None:
            IngestState.objects.create(cluster=cluster, last_success_at=now, **flags)
        elif result.writes or any(getattr(state, name) != value for name, value in flags.items()):
            IngestState.objects.filter(pk=state.pk).update(last_success_at=now, **flags)
    cache.set(checked_key(cluster.pk), now.isoformat(), timeout=None)
    if result.writes:
        log.info("violations ingest of %s: %d new, %d resolved, %d constraints changed", cluster.name, result.created,
                 result.resolved, result.constraints_changed)
    return result
