"""Reads for onboarding: joinable teams, certificate inventory, issuance targets, the KPI.

Visibility is decided here: users see their own certificates; platform
admins and auditors see all. Namespaces for a kubeconfig come from
``namespaces_visible_to`` so an outsider gets 404, never a context.
"""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import Http404

from apps.approvals.models import Request
from apps.approvals.selectors import requests_visible_to
from apps.clusters.models import Cluster
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import namespaces_visible_to
from apps.onboarding.models import IssuedCertificate, Onboarding
from apps.teams.models import Membership, Team


def teams_for_joining(user) -> QuerySet[Team]:
    """Every team but the archived (the directory newcomers choose from), annotated for ``user``.

    ``my_role``: the user's role in it or None; ``pending_request_id``: their
    open join request, if any. Two subqueries, so the query count stays flat.
    """
    my_role = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
    pending = Request.objects.filter(kind=Request.Kind.MEMBERSHIP, state=Request.State.SUBMITTED, team=OuterRef("pk"),
                                     requester=user).values("pk")[:1]
    return (Team.objects.filter(archived_at__isnull=True)
            .annotate(my_role=Subquery(my_role), pending_request_id=Subquery(pending)).order_by("slug"))


def team_for_joining(slug: str) -> Team:
    """Any team by slug (the join directory is public to signed-in users)."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team")
    return team


def membership_requests_visible_to(user) -> QuerySet[Request]:
    return requests_visible_to(user).filter(kind=Request.Kind.MEMBERSHIP)


def certificates_visible_to(user) -> QuerySet[IssuedCertificate]:
    """The user's own certificates; admins and auditors see everyone's."""
    qs = IssuedCertificate.objects.select_related("user", "cluster", "issued_by")
    if user.can_audit:
        return qs
    return qs.filter(user=user)


def certificates_of_user(user) -> QuerySet[IssuedCertificate]:
    """"My credentials": only the user's own, even for admins."""
    return IssuedCertificate.objects.select_related("cluster").filter(user=user).annotate(
        renewed=Exists(IssuedCertificate.objects.filter(renews=OuterRef("pk"))))


def certificate_get_for_user(user, pk) -> IssuedCertificate:
    cert = certificates_visible_to(user).filter(pk=pk).first()
    if cert is None:
        raise Http404("No such certificate")
    return cert


def own_certificate_get(user, pk) -> IssuedCertificate:
    """One of the user's own certificates (what "renew" may refer to); 404 otherwise, even for admins."""
    cert = IssuedCertificate.objects.select_related("cluster").filter(user=user, pk=pk).first()
    if cert is None:
        raise Http404("No such certificate")
    return cert


def kubeconfig_clusters_for(user) -> QuerySet[Cluster]:
    """Clusters a kubeconfig may be issued for: any registered one.

    A certificate grants nothing without RoleBindings, so listing every
    cluster leaks nothing a user could use; membership is checked at issuance.
    """
    return Cluster.objects.order_by("name")


def kubeconfig_cluster_get(user, name: str) -> Cluster:
    cluster = kubeconfig_clusters_for(user).filter(name=name).first()
    if cluster is None:
        raise Http404("No such cluster")
    return cluster


def kubeconfig_namespaces_for(user) -> QuerySet[Namespace]:
    """Live namespaces the user can see, as default-namespace choices."""
    return namespaces_visible_to(user).exclude(phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED]).order_by("cluster__name", "name")


# How many namespace names a refusal lists before "and N more".
_LISTED = 20


def kubeconfig_namespace_get(user, cluster: Cluster, name: str) -> Namespace:
    """The live namespace ``name`` on ``cluster`` if the user can see it.

    Otherwise PermissionDenied naming the namespaces the user can get a
    kubeconfig for on that cluster. The same answer whether ``name`` exists
    or not (``kube-system``, another team's), so it reveals nothing.
    """
    mine = kubeconfig_namespaces_for(user).filter(cluster=cluster)
    ns = mine.filter(name=name).first()
    if ns is None:
        names = list(mine.values_list("name", flat=True)[:_LISTED + 1])
        if not names:
            choices = "you have none there yet (request one, or ask to join a team)"
        else:
            choices = ", ".join(names[:_LISTED]) + (f" and {mine.count() - _LISTED} more" if len(names) > _LISTED else "")
        raise PermissionDenied(f'you cannot get a kubeconfig for namespace "{name[:63]}" on cluster {cluster.name}; '
                               f"namespaces you can: {choices}")
    return ns


# --- KPI ------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (no interpolation: every answer is a real onboarding)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def histogram(values: list[float], bins: int = 10) -> list[dict]:
    """Equal-width buckets from 0 to the maximum, with counts and a width in percent for bars."""
    if not values:
        return []
    top = max(values) or 1.0
    width = top / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / width))] += 1
    peak = max(counts)
    # Enough decimals that neighbouring bucket edges differ: 0.003 s wide
    # buckets need three, 20 s wide ones none.
    decimals = max(0, -math.floor(math.log10(width))) if width > 0 else 0
    return [{"low": i * width, "high": (i + 1) * width, "count": c, "percent": round(100 * c / peak) if peak else 0,
             "label": f"{i * width:.{decimals}f}–{(i + 1) * width:.{decimals}f}"}
            for i, c in enumerate(counts)]


def onboarding_kpi(limit: int = 1000) -> dict:
    """Distribution of the last ``limit`` completed onboardings (system time and wall-clock time)."""
    rows = list(Onboarding.objects.filter(completed_at__isnull=False).order_by("-completed_at")
                .values_list("seconds_from_approval", "seconds_from_submission")[:limit])
    from_approval = [r[0] for r in rows if r[0] is not None]
    from_submission = [r[1] for r in rows if r[1] is not None]

    def stats(values):
        return {"count": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
                "max": max(values) if values else None, "histogram": histogram(values)}

    return {
        "from_approval": stats(from_approval),
        "from_submission": stats(from_submission),
        "pending": Onboarding.objects.filter(completed_at__isnull=True).count(),
    }


def recent_onboardings(limit: int = 50) -> QuerySet[Onboarding]:
    return Onboarding.objects.select_related("user", "team", "request").order_by("-approved_at")[:limit]
