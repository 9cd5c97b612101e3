"""Reads of requests: who sees which, and each manager's queue."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from apps.approvals.models import Request
from apps.teams.selectors import managed_team_ids


def requests_visible_to(user) -> QuerySet[Request]:
    """A user's own requests and those of their teams; admins and auditors see all."""
    qs = Request.objects.select_related("team", "requester", "decider", "cluster", "namespace")
    if user.can_audit:
        return qs
    return qs.filter(Q(requester=user) | Q(team__memberships__user=user)).distinct()


def request_get_for_user(user, pk) -> Request:
    request = requests_visible_to(user).filter(pk=pk).first()
    if request is None:
        raise Http404("No such request")
    return request


def approval_queue_for(user) -> QuerySet[Request]:
    """Submitted requests the user may decide: their teams' (or all for admins), never their own."""
    qs = Request.objects.select_related("team", "requester", "cluster").filter(state=Request.State.SUBMITTED).exclude(requester=user)
    team_ids = managed_team_ids(user)
    if team_ids is not None:
        qs = qs.filter(team_id__in=team_ids)
    return qs.order_by("created_at", "id")
