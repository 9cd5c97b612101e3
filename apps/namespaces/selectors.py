"""Reads of namespaces, with visibility decided here and nowhere else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from apps.approvals.kinds import step
from apps.approvals.models import Request
from apps.core import quantities
from apps.namespaces.manifests import render_bundle, to_yaml
from apps.namespaces.models import Namespace
from apps.teams.models import Membership

# MISSION §3 TTL: users are warned 72 h before expiry, urgently at 24 h.
EXPIRY_WARNING_HOURS = 72
EXPIRY_URGENT_HOURS = 24
_GONE = (Namespace.Phase.TERMINATING, Namespace.Phase.DELETED)


def namespaces_visible_to(user) -> QuerySet[Namespace]:
    """Namespaces of the user's teams; admins and auditors see all."""
    qs = Namespace.objects.select_related("cluster", "team", "owner")
    if user.can_audit:
        return qs
    # A subquery on the user's teams, not a join through memberships: no DISTINCT over wide rows.
    return qs.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))


def namespace_get_for_user(user, pk) -> Namespace:
    """The namespace, or 404 for outsiders (not 403: they learn nothing)."""
    namespace = namespaces_visible_to(user).filter(pk=pk).first()
    if namespace is None:
        raise Http404("No such namespace")
    return namespace


def namespaces_of_team(team) -> QuerySet[Namespace]:
    """Live namespaces of a team on every cluster (what membership changes touch)."""
    return Namespace.objects.filter(team=team).exclude(phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED])


def team_memberships_for_bundle(team):
    """The memberships that become RoleBindings (users loaded in the same query)."""
    return list(Membership.objects.filter(team=team).select_related("user").order_by("user__username"))


def namespace_origin_request_id(namespace: Namespace) -> int | None:
    """Id of the approval request that created the namespace (first one), if any."""
    if namespace.pk is None:
        return None
    return Request.objects.filter(namespace=namespace, kind=Request.Kind.NAMESPACE).order_by("created_at", "id").values_list("pk", flat=True).first()


def bundle_for_namespace(namespace: Namespace) -> list[dict]:
    """The objects the worker applies for ``namespace`` now (current memberships)."""
    return render_bundle(namespace, team_memberships_for_bundle(namespace.team), request_id=namespace_origin_request_id(namespace))


def bundle_for_request(request) -> list[dict]:
    """Preview of the bundle a namespace request will produce, before approval.

    Built from an unsaved Namespace made of the request's payload; once the
    request is approved and has its namespace, that namespace's bundle is
    returned instead (what is actually applied). The expiry shown for a
    pending request counts its TTL from now, as approving now would.
    """
    if request.namespace_id is not None:
        return bundle_for_namespace(request.namespace)
    payload = request.payload or {}
    ttl_hours = payload.get("ttl_hours")
    namespace = Namespace(
        cluster=request.cluster, name=request.name, team=request.team, purpose=payload.get("purpose", ""),
        owner=request.requester, quota=payload.get("quota") or {}, limit_defaults=payload.get("limit_defaults") or {},
        expires_at=timezone.now() + timedelta(hours=ttl_hours) if ttl_hours else None,
        pod_security_level=payload.get("pod_security_level") or Namespace._meta.get_field("pod_security_level").default,
    )
    if payload.get("namespace_uid"):
        namespace.uid = payload["namespace_uid"]
    return render_bundle(namespace, team_memberships_for_bundle(request.team), request_id=request.pk)


# --- Namespace requests on the request pages (the kind's hooks, see NamespacesConfig.ready) -------


def namespace_request_progress(req: Request) -> list[dict] | None:
    """A namespace request's timeline after approval, told by its namespace's phase; None without one.

    Applying (attempts, the cluster's last error while retrying) -> ready or
    failed (with the error) -> deleting -> deleted.
    """
    if not req.namespace_id:
        return None
    namespace = req.namespace
    phase = Namespace.Phase
    attempts = f"attempt {namespace.attempts}" if namespace.attempts else ""
    if namespace.phase in (phase.PENDING, phase.PROVISIONING):
        detail = attempts
        if namespace.last_error:
            detail = f"{attempts}; retrying" if attempts else "retrying"
        return [step(f"Applying to cluster {namespace.cluster.name}", "busy", req.started_at, detail=detail, error=namespace.last_error)]
    steps = [step(f"Applied to cluster {namespace.cluster.name}", "ok", req.started_at, detail=attempts)]
    if namespace.phase == phase.FAILED:
        steps.append(step("Failed", "bad", namespace.updated_at, error=namespace.last_error or req.last_error))
        return steps
    steps.append(step("Ready", "ok", namespace.applied_at))
    if namespace.phase == phase.TERMINATING:
        steps.append(step("Deleting", "busy"))
    elif namespace.phase == phase.DELETED:
        steps.append(step("Deleted", "muted", namespace.deleted_at))
    return steps


def namespace_request_preview(req: Request) -> str:
    """The YAML approving ``req`` applies (once approved, what its namespace applies)."""
    return to_yaml(bundle_for_request(req)) if req.cluster_id else ""


def namespace_request_budgets(requests: list[Request]) -> dict[int, list[dict]]:
    """For each request id, its team's granted quota + the request against the team's budget (one query)."""
    usage = team_usage(r.team_id for r in requests)
    return {r.pk: budget_rows(r, usage) for r in requests}


def team_usage(team_ids) -> dict[int, dict[str, Decimal]]:
    """Quota already granted per team: the sum of the hard values of its live namespaces.

    Sums are quantities, never strings. Adding up thousands of quotas in
    Python on every page view would make the approval queue grow with the
    fleet: each team's sum is cached under a fingerprint of its live
    namespaces (how many, their ids, the latest change), read in one
    aggregate query, so a cached sum can never be stale.
    """
    live = Namespace.objects.filter(team_id__in=set(team_ids)).exclude(phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED])
    usage: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    keys = {row["team_id"]: f"portal:team-usage:{row['team_id']}:{row['n']}:{row['ids']}:{row['last'].timestamp()}"
            for row in live.order_by().values("team_id").annotate(n=Count("pk"), ids=Sum("pk"), last=Max("updated_at"))}
    cached = cache.get_many(list(keys.values())) if keys else {}
    missing = [team_id for team_id, key in keys.items() if key not in cached]
    for team_id, key in keys.items():
        if key in cached:
            usage[team_id].update({resource: Decimal(value) for resource, value in cached[key].items()})
    if missing:
        for team_id, quota in live.filter(team_id__in=missing).values_list("team_id", "quota"):
            for resource, value in (quota or {}).items():
                try:
                    usage[team_id][resource] += quantities.parse(value)
                except ValueError:
                    continue
        cache.set_many({keys[t]: {r: str(v) for r, v in usage[t].items()} for t in missing}, timeout=3600)
    return usage


def budget_rows(req: Request, usage: dict[int, dict[str, Decimal]]) -> list[dict]:
    """For each resource of the team's budget: granted now, this request, and the budget.

    Empty when the team has no budget (nothing to compare against).
    """
    rows = []
    asked = (req.payload or {}).get("quota") or {}
    granted = usage.get(req.team_id, {})
    for resource, raw_budget in (req.team.budget or {}).items():
        try:
            budget = quantities.parse(raw_budget)
            extra = quantities.parse(asked[resource]) if resource in asked else Decimal(0)
        except ValueError:
            continue
        now = granted.get(resource, Decimal(0))
        after = now + extra
        rows.append({
            "resource": resource,
            "granted": quantities.format_quantity(now, resource),
            "asked": asked.get(resource, "—"),
            "budget": raw_budget,
            "percent": int(min(100, after * 100 / budget)) if budget > 0 else 100,
            "over": after > budget,
        })
    return rows


# --- TTL -----------------------------------------------------------------------------------


def expiry_grace() -> timedelta:
    """How long after ``expires_at`` the reaper waits before deleting (``NAMESPACE_EXPIRY_GRACE_HOURS``)."""
    return timedelta(hours=settings.NAMESPACE_EXPIRY_GRACE_HOURS)


def namespaces_expired(now: datetime | None = None) -> QuerySet[Namespace]:
    """Namespaces the TTL reaper deletes now: live, not protected, past ``expires_at`` + grace.

    The same rule as ``namespace_is_reapable`` (which the reaper re-checks
    on the locked row), written as a query.
    """
    now = now or timezone.now()
    return (Namespace.objects.exclude(phase__in=_GONE).filter(protected=False, expires_at__isnull=False,
                                                              expires_at__lt=now - expiry_grace()).order_by("expires_at", "pk"))


def namespace_is_reapable(namespace: Namespace, now: datetime | None = None) -> bool:
    """Whether the reaper should delete ``namespace`` now (see ``namespaces_expired``)."""
    now = now or timezone.now()
    return (namespace.is_live and not namespace.protected and namespace.expires_at is not None
            and namespace.expires_at + expiry_grace() < now)


def namespaces_expiring_within(user, hours: float = EXPIRY_WARNING_HOURS, *, now: datetime | None = None) -> QuerySet[Namespace]:
    """The user's live, unprotected namespaces that expire within ``hours`` (soonest first).

    Already expired ones that the reaper has not deleted yet (grace period)
    are included: they are the most urgent of all.
    """
    now = now or timezone.now()
    return (namespaces_visible_to(user).exclude(phase__in=_GONE)
            .filter(protected=False, expires_at__isnull=False, expires_at__lte=now + timedelta(hours=hours))
            .order_by("expires_at", "pk"))


@dataclass(frozen=True)
class Expiry:
    """What the UI says about a namespace's TTL.

    ``state``: ``never`` (no TTL), ``protected``, ``later``, ``warning``
    (within 72 h), ``urgent`` (within 24 h), ``expired`` (the reaper deletes
    it at its next run after the grace period), ``deleting``/``deleted``.
    ``tone`` is the badge tone, empty when nothing needs attention.
    """

    state: str
    label: str
    tone: str = ""
    at: datetime | None = None

    @property
    def highlight(self) -> bool:
        return self.state in ("warning", "urgent", "expired")

    @property
    def counts_down(self) -> bool:
        """The page may count ``at`` down live (portal.js ``data-countdown``)."""
        return self.state in ("later", "warning", "urgent")


def _duration(delta: timedelta) -> str:
    """Coarse, never overstated time left: ``35 min``, ``5 h``, ``4 d``."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes <= EXPIRY_WARNING_HOURS * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def namespace_expiry(namespace: Namespace, now: datetime | None = None) -> Expiry:
    """The TTL status of ``namespace`` as shown on the dashboard and the detail page (no query)."""
    now = now or timezone.now()
    at = namespace.expires_at
    if namespace.phase == Namespace.Phase.DELETED:
        return Expiry("deleted", "deleted", "muted", at)
    if namespace.phase == Namespace.Phase.TERMINATING:
        return Expiry("deleting", "deleting", "busy", at)
    if at is None:
        return Expiry("never", "never")
    if namespace.protected:
        # Protected wins over the TTL: say so rather than count down to nothing.
        return Expiry("protected", "protected, never deleted", "muted", at)
    left = at - now
    if left <= timedelta(0):
        return Expiry("expired", "expired, deleting", "bad", at)
    if left <= timedelta(hours=EXPIRY_URGENT_HOURS):
        return Expiry("urgent", f"expires in {_duration(left)}", "bad", at)
    if left <= timedelta(hours=EXPIRY_WARNING_HOURS):
        return Expiry("warning", f"expires in {_duration(left)}", "wait", at)
    return Expiry("later", f"expires in {_duration(left)}", "", at)
