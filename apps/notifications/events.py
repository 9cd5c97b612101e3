"""What each event says and to whom: read from the database when the message is delivered.

``messages_for(event, object_id, **extra)`` returns the ``Message``s of one
event. Recipients and texts are computed at delivery time (in the worker),
from committed rows: a request cancelled before its "submitted" message went
out tells nobody, a manager added since hears of it.

Events and their keys (one notification per person and key):

- ``request.submitted`` -> the team's managers (platform admins when the
  team has none), not the requester; only while the request still waits.
- ``request.decided`` -> the requester, with the decision's reason.
- ``namespace.ready`` -> the namespace's owner (who requested it), once.
- ``namespace.failed`` -> the owner, once per failure (``at``).
- ``namespace.expiring`` -> the owner and the team's managers, once per
  threshold (72 h, 24 h) and expiry time: an extension warns again.
- ``certificate.expiring`` -> the person it was issued to, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.approvals.models import Request
from apps.namespaces.models import Namespace
from apps.notifications.models import Kind
from apps.onboarding.models import IssuedCertificate
from apps.teams.models import Membership

User = get_user_model()


@dataclass(frozen=True)
class Message:
    user_id: int
    kind: str
    key: str
    title: str
    body: str
    url: str


def _when(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z")


def _managers(team_id: int) -> list[int]:
    """The team's managers; the platform admins when it has none (someone must hear of it)."""
    ids = list(Membership.objects.filter(team_id=team_id, role=Membership.Role.MANAGER, user__is_active=True)
               .values_list("user_id", flat=True))
    if ids:
        return ids
    return list(User.objects.filter(Q(is_superuser=True) | Q(platform_role=User.PlatformRole.ADMIN), is_active=True)
                .values_list("pk", flat=True))


def _describe(request: Request) -> str:
    what = request.get_kind_display().lower()
    target = request.name or request.team.slug
    return f"#{request.pk} ({what}: {target})"


def request_submitted(request_id: int) -> list[Message]:
    request = Request.objects.select_related("team", "requester").filter(pk=request_id).first()
    if request is None or request.state != Request.State.SUBMITTED:
        return []
    title = f"{request.requester.username} asks: request {_describe(request)} in {request.team.slug}"
    body = f"Request {_describe(request)} from {request.requester.username} waits for a manager of {request.team.slug}."
    reason = request.payload.get("reason") or request.payload.get("purpose") or request.payload.get("note")
    if reason:
        body += f"\nWhy: {reason}"
    url = reverse("approvals:detail", args=[request.pk])
    return [Message(user_id, Kind.REQUEST_SUBMITTED, f"request:{request.pk}:submitted", title, body, url)
            for user_id in _managers(request.team_id) if user_id != request.requester_id]


def request_decided(request_id: int) -> list[Message]:
    request = Request.objects.select_related("team", "decider").filter(pk=request_id).first()
    if request is None or request.decided_at is None or request.state == Request.State.CANCELLED:
        return []
    verdict = "rejected" if request.state == Request.State.REJECTED else "approved"
    by = request.decider.username if request.decider else f"rule {request.decided_by_rule}"
    title = f"Request {_describe(request)} {verdict}"
    body = f"Your request {_describe(request)} was {verdict} by {by}."
    if request.reason:
        body += f"\nReason: {request.reason}"
    return [Message(request.requester_id, Kind.REQUEST_DECIDED, f"request:{request.pk}:decided", title, body,
                    reverse("approvals:detail", args=[request.pk]))]


def namespace_ready(namespace_id: int) -> list[Message]:
    namespace = Namespace.objects.select_related("cluster").filter(pk=namespace_id).first()
    if namespace is None or namespace.owner_id is None:
        return []
    return [Message(namespace.owner_id, Kind.NAMESPACE_READY, f"namespace:{namespace.pk}:ready",
                    f"Namespace {namespace.name} is ready on {namespace.cluster.name}",
                    f"Namespace {namespace.name} is ready on cluster {namespace.cluster.name}; download a kubeconfig to use it.",
                    reverse("namespaces:detail", args=[namespace.pk]))]


def namespace_failed(namespace_id: int, at: str = "", error: str = "") -> list[Message]:
    namespace = Namespace.objects.select_related("cluster").filter(pk=namespace_id).first()
    if namespace is None or namespace.owner_id is None:
        return []
    body = f"Namespace {namespace.name} could not be applied on cluster {namespace.cluster.name}."
    if error:
        body += f"\nThe cluster said: {error[:500]}"
    return [Message(namespace.owner_id, Kind.NAMESPACE_FAILED, f"namespace:{namespace.pk}:failed:{at}",
                    f"Namespace {namespace.name} failed on {namespace.cluster.name}", body,
                    reverse("namespaces:detail", args=[namespace.pk]))]


def namespace_expiring(namespace_id: int, expires_at: str = "", hours: int = 72) -> list[Message]:
    """Only while the namespace still expires at the time the warning is about (an extension since: no warning)."""
    namespace = Namespace.objects.select_related("cluster", "team").filter(pk=namespace_id).first()
    if (namespace is None or not namespace.is_live or namespace.protected or namespace.expires_at is None
            or namespace.expires_at.isoformat() != expires_at):
        return []
    title = f"Namespace {namespace.name} expires in less than {hours} h"
    body = (f"Namespace {namespace.name} on cluster {namespace.cluster.name} (team {namespace.team.slug}) expires "
            f"{_when(namespace.expires_at)} and is then deleted with everything in it.\n"
            "Ask for more time with Extend on its page, or a manager can protect it.")
    users = {*_managers(namespace.team_id), *([namespace.owner_id] if namespace.owner_id else [])}
    key = f"namespace:{namespace.pk}:expiring:{expires_at}:{hours}h"
    url = reverse("namespaces:detail", args=[namespace.pk])
    return [Message(user_id, Kind.NAMESPACE_EXPIRING, key, title, body, url) for user_id in sorted(users)]


def certificate_expiring(certificate_id: int) -> list[Message]:
    cert = IssuedCertificate.objects.select_related("cluster").filter(pk=certificate_id).first()
    if cert is None or cert.is_expired:
        return []
    where = f"{cert.cluster.name}" + (f"/{cert.namespace_name}" if cert.namespace_name else "")
    return [Message(cert.user_id, Kind.CERTIFICATE_EXPIRING, f"certificate:{cert.pk}:expiring",
                    f"Your kubeconfig for {where} expires {_when(cert.not_after)}",
                    f"The client certificate of your kubeconfig for {where} (serial {cert.serial[:16]}) expires "
                    f"{_when(cert.not_after)}; kubectl then answers Unauthorized. Renew it to keep working.",
                    reverse("onboarding:kubeconfig") + f"?renew={cert.pk}")]


EVENTS: dict[str, Callable[..., list[Message]]] = {
    "request.submitted": request_submitted,
    "request.decided": request_decided,
    "namespace.ready": namespace_ready,
    "namespace.failed": namespace_failed,
    "namespace.expiring": namespace_expiring,
    "certificate.expiring": certificate_expiring,
}


def messages_for(event: str, object_id: int, **extra) -> list[Message]:
    return EVENTS[event](object_id, **extra)
