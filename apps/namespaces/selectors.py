"""Reads of namespaces, with visibility decided here and nowhere else."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from apps.namespaces.models import Namespace


def namespaces_visible_to(user) -> QuerySet[Namespace]:
    """Namespaces of the user's teams; admins and auditors see all."""
    qs = Namespace.objects.select_related("cluster", "team", "owner")
    if user.can_audit:
        return qs
    return qs.filter(team__memberships__user=user).distinct()


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
    from apps.teams.models import Membership

    return list(Membership.objects.filter(team=team).select_related("user").order_by("user__username"))


def namespace_origin_request_id(namespace: Namespace) -> int | None:
    """Id of the approval request that created the namespace (first one), if any."""
    from apps.approvals.models import Request

    if namespace.pk is None:
        return None
    return Request.objects.filter(namespace=namespace, kind=Request.Kind.NAMESPACE).order_by("created_at", "id").values_list("pk", flat=True).first()


def bundle_for_namespace(namespace: Namespace) -> list[dict]:
    """The objects the worker applies for ``namespace`` now (current memberships)."""
    from apps.namespaces.manifests import render_bundle

    return render_bundle(namespace, team_memberships_for_bundle(namespace.team), request_id=namespace_origin_request_id(namespace))


def bundle_for_request(request) -> list[dict]:
    """Preview of the bundle a namespace request will produce, before approval.

    Built from an unsaved Namespace made of the request's payload; once the
    request is approved and has its namespace, that namespace's bundle is
    returned instead (what is actually applied). The expiry shown for a
    pending request counts its TTL from now, as approving now would.
    """
    from datetime import timedelta

    from django.utils import timezone

    from apps.namespaces.manifests import render_bundle

    if request.namespace_id is not None:
        return bundle_for_namespace(request.namespace)
    payload = request.payload or {}
    ttl_hours = payload.get("ttl_hours")
    namespace = Namespace(
        cluster=request.cluster, name=request.name, team=request.team, purpose=payload.get("purpose", ""),
        owner=request.requester, quota=payload.get("quota") or {},
        expires_at=timezone.now() + timedelta(hours=ttl_hours) if ttl_hours else None,
        pod_security_level=payload.get("pod_security_level") or Namespace._meta.get_field("pod_security_level").default,
    )
    return render_bundle(namespace, team_memberships_for_bundle(request.team), request_id=request.pk)
