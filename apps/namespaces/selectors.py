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
