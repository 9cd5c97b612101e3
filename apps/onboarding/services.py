"""Join-team requests, kubeconfig issuance (CSR → signed certificate → kubeconfig) and the onboarding KPI.

Join requests are a kind of request (``apps.approvals`` owns requests and
their state): ``membership_request_submit`` holds the rules of asking,
``membership_request_approve`` is what approving one does, and the access
check reports the request done or failed.

The flow follows the Kubernetes CSR API: the portal creates a
``certificates.k8s.io/v1`` CertificateSigningRequest for the signer
``kubernetes.io/kube-apiserver-client``, approves it through the ``approval``
subresource as itself, waits for ``status.certificate`` with a watch, builds
a kubeconfig and deletes the CSR object. Cluster calls run outside any
database transaction (they can take seconds); only the final record and its
audit row are written atomically, and only when a certificate was collected.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import time
from dataclasses import dataclass

import yaml
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.approvals.models import Request
from apps.approvals.services import (
    request_create,
    request_mark_applying,
    request_mark_done,
    request_mark_failed,
    request_note_waiting,
    request_replay,
)
from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.clusters import kube
from apps.clusters.models import Cluster
from apps.core.errors import ClusterError, ServiceError
from apps.namespaces.models import Namespace
from apps.namespaces.selectors import namespaces_of_team, namespaces_visible_to
from apps.onboarding import csr as csrlib
from apps.onboarding.models import IssuedCertificate, Onboarding
from apps.onboarding.tasks import confirm_access
from apps.teams.models import Membership, Team
from apps.teams.services import membership_add

logger = logging.getLogger(__name__)

_NAME_UNSAFE = re.compile(r"[^a-z0-9.-]+")


class KubeconfigIssueError(ServiceError):
    """The cluster did not sign (timeout, denied, unreachable); nothing was recorded.

    ``timeout`` tells the API to answer 504 rather than 502.
    """

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class IssuedKubeconfig:
    certificate: IssuedCertificate
    kubeconfig: str
    # True when the kubeconfig already contains the private key (convenience mode).
    includes_key: bool


def certificate_lifetime_seconds(requested: int | None = None) -> int:
    """The lifetime to ask for: the requested or default one, capped by the admin-set maximum.

    Kubernetes refuses ``expirationSeconds`` below 600, so that is the floor.
    """
    seconds = requested or settings.KUBECONFIG_CERT_SECONDS
    return max(600, min(int(seconds), settings.KUBECONFIG_CERT_MAX_SECONDS))


def csr_object_name(user) -> str:
    """A DNS-subdomain CSR name that says whose it is and never collides."""
    base = _NAME_UNSAFE.sub("-", user.get_username().lower()).strip("-.")[:40] or "user"
    return f"portal-{base}-{secrets.token_hex(5)}"


def build_kubeconfig(*, cluster: Cluster, user_name: str, namespace: str, certificate_pem: bytes,
                     key_pem: bytes | None = None) -> str:
    """A kubeconfig with one cluster, one user and one context (default namespace set).

    Without ``key_pem`` the user entry has only the certificate; the browser
    (or the user) adds ``client-key-data`` next to it.
    """
    user_entry = {"client-certificate-data": base64.b64encode(certificate_pem).decode()}
    if key_pem is not None:
        user_entry["client-key-data"] = base64.b64encode(key_pem).decode()
    context_name = f"{user_name}@{cluster.name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": {
            "server": cluster.api_server_url,
            "certificate-authority-data": base64.b64encode(cluster.ca_bundle.encode()).decode(),
        }}],
        "users": [{"name": context_name, "user": user_entry}],
        "contexts": [{"name": context_name, "context": {"cluster": cluster.name, "user": context_name, "namespace": namespace}}],
        "current-context": context_name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=1 << 20)


def _default_namespace_name(user, cluster: Cluster) -> str:
    ns = (namespaces_visible_to(user).filter(cluster=cluster, team__memberships__user=user)
          .exclude(phase__in=[Namespace.Phase.TERMINATING, Namespace.Phase.DELETED]).order_by("name").first())
    return ns.name if ns else "default"


def _sign_on_cluster(*, cluster: Cluster, name: str, csr_pem: bytes, seconds: int, actor) -> bytes:
    """Create, approve and collect one CSR; the CSR object is gone from the cluster afterwards."""
    created = False
    try:
        kube.create_csr(cluster, name, csr_pem, seconds)
        created = True
        kube.approve_csr(cluster, name, f"Approved by the platform portal for {actor.get_username()}")
        return kube.wait_for_certificate(cluster, name, settings.KUBECONFIG_CSR_TIMEOUT_SECONDS)
    except ClusterError as exc:
        text = str(exc)
        # kube.wait_for_certificate says "no certificate issued ... within Ns" on its deadline.
        timeout = "no certificate issued" in text or "timed out" in text.lower()
        if "denied" in text.lower():
            message = f"cluster {cluster.name} denied the certificate request: {text}"
        elif timeout:
            message = (f"cluster {cluster.name} did not sign the certificate within "
                       f"{settings.KUBECONFIG_CSR_TIMEOUT_SECONDS}s; nothing was issued ({text})")
        else:
            message = f"cluster {cluster.name} could not issue the certificate: {text}"
        raise KubeconfigIssueError(message, timeout=timeout) from exc
    finally:
        # Clean up in every case: an approved-but-unused or failed CSR must
        # not linger on the cluster. A failed delete is logged, not raised:
        # the user's outcome does not depend on it.
        if created:
            try:
                kube.delete_csr(cluster, name)
            except ClusterError as exc:
                logger.warning("could not delete CSR %s on cluster %s: %s", name, cluster.name, exc)


def kubeconfig_issue(*, actor, cluster: Cluster, namespace: Namespace | None = None, csr_pem: str | bytes | None = None,
                     reason: str = "", renews: IssuedCertificate | None = None,
                     expiration_seconds: int | None = None) -> IssuedKubeconfig:
    """Issue a client certificate for ``actor`` on ``cluster`` and return a kubeconfig.

    With ``csr_pem`` (user-held key: made in the browser or by the user) the
    CSR is verified first and the kubeconfig comes back without a key. Without
    it the portal generates a key, puts it into the kubeconfig and forgets it
    (it is never stored or logged). ``namespace`` (already checked visible by
    the caller's selector) becomes the context's default namespace.

    Raises ValidationError (bad CSR: the message names the rule),
    PermissionDenied (not in any team) or KubeconfigIssueError (cluster side).
    """
    if not actor.is_active:
        raise PermissionDenied("inactive users cannot get credentials")
    if not actor.is_platform_admin and not Membership.objects.filter(user=actor).exists():
        raise PermissionDenied("join a team first: credentials are only issued to members of a team")
    if namespace is not None and namespace.cluster_id != cluster.pk:
        raise ValidationError({"namespace": [f'namespace "{namespace.name}" is not on cluster {cluster.name}']})
    if namespace is not None and not namespace.is_live:
        raise ValidationError({"namespace": [f'namespace "{namespace.name}" is being deleted']})
    if len(reason or "") > 200:
        raise ValidationError({"reason": ["must be at most 200 characters"]})

    identity = actor.cluster_identity
    key_pem: bytes | None = None
    if csr_pem:
        try:
            checked = csrlib.verify_csr(csr_pem, identity=identity,
                                        allowed_groups=settings.KUBECONFIG_ALLOWED_GROUPS)
        except csrlib.CsrRejected as exc:
            raise ValidationError({"csr": [str(exc)]}) from None
        request_pem, key_mode, key_algorithm = checked.pem, IssuedCertificate.KeyMode.USER, checked.key_algorithm
    else:
        key_pem, request_pem = csrlib.generate_key_and_csr(identity)
        key_mode, key_algorithm = IssuedCertificate.KeyMode.PORTAL, "EC P-256"

    seconds = certificate_lifetime_seconds(expiration_seconds)
    name = csr_object_name(actor)
    started_at = timezone.now()
    t0 = time.monotonic()
    certificate_pem = _sign_on_cluster(cluster=cluster, name=name, csr_pem=request_pem, seconds=seconds, actor=actor)
    elapsed = time.monotonic() - t0

    facts = csrlib.certificate_facts(certificate_pem)
    # Defence in depth: a signer that changed the subject or the key would
    # hand out someone else's identity; refuse to pass it on.
    if facts.common_name != identity or facts.public_key_der != csrlib.csr_public_key_der(request_pem):
        raise KubeconfigIssueError(f"cluster {cluster.name} returned a certificate that does not match the request; nothing was issued")
    if csrlib.FORBIDDEN_GROUP in facts.organisations:
        raise KubeconfigIssueError(f"cluster {cluster.name} returned a certificate for {csrlib.FORBIDDEN_GROUP}; refused")

    namespace_name = namespace.name if namespace is not None else _default_namespace_name(actor, cluster)
    kubeconfig = build_kubeconfig(cluster=cluster, user_name=actor.get_username(), namespace=namespace_name,
                                  certificate_pem=certificate_pem, key_pem=key_pem)
    with transaction.atomic():
        record = IssuedCertificate.objects.create(
            user=actor, cluster=cluster, namespace=namespace, namespace_name=namespace_name, subject=facts.subject,
            serial=facts.serial, fingerprint_sha256=facts.fingerprint_sha256, not_before=facts.not_before,
            not_after=facts.not_after, csr_name=name, key_mode=key_mode, key_algorithm=key_algorithm,
            reason=reason or "", issued_by=actor, renews=renews, issue_seconds=elapsed,
        )
        audit_record(actor=actor, action=Action.KUBECONFIG_ISSUE, target=record, after={
            "cluster": cluster.name, "namespace": namespace_name, "subject": facts.subject, "serial": facts.serial,
            "fingerprint_sha256": facts.fingerprint_sha256, "not_after": facts.not_after.isoformat(),
            "csr_name": name, "key_mode": key_mode, "key_algorithm": key_algorithm, "reason": reason or "",
            "renews": renews.pk if renews else None,
        }, team=namespace.team if namespace is not None else None)
        _onboarding_note_kubeconfig(user=actor, certificate=record, started_at=started_at)
    return IssuedKubeconfig(certificate=record, kubeconfig=kubeconfig, includes_key=key_pem is not None)


# --- The onboarding KPI -----------------------------------------------------------------


def onboarding_start(*, request) -> Onboarding:
    """Start measuring an approved join request (called inside the approval transaction)."""
    onboarding, _ = Onboarding.objects.get_or_create(request=request, defaults={
        "user": request.requester, "team": request.team, "submitted_at": request.created_at,
        "approved_at": request.decided_at or timezone.now(),
    })
    return onboarding


def _complete_if_ready(onboarding: Onboarding) -> None:
    """Compute the KPI once both bindings and a kubeconfig exist.

    Working access = bindings confirmed AND a certificate issued. System time
    leaves out the human gap between "access ready" and "clicked download".
    """
    if onboarding.completed_at or onboarding.access_ready_at is None or onboarding.first_kubeconfig_at is None:
        return
    working_at = max(onboarding.access_ready_at, onboarding.first_kubeconfig_at)
    idle = max(0.0, (onboarding.kubeconfig_started_at - onboarding.access_ready_at).total_seconds())
    onboarding.seconds_from_approval = max(0.0, (working_at - onboarding.approved_at).total_seconds() - idle)
    onboarding.seconds_from_submission = (working_at - onboarding.submitted_at).total_seconds()
    onboarding.completed_at = working_at
    onboarding.save(update_fields=["seconds_from_approval", "seconds_from_submission", "completed_at"])


def _onboarding_note_kubeconfig(*, user, certificate: IssuedCertificate, started_at) -> None:
    open_rows = Onboarding.objects.select_for_update().filter(user=user, first_kubeconfig_at__isnull=True,
                                                              approved_at__lte=started_at)
    for onboarding in open_rows:
        onboarding.kubeconfig_started_at = started_at
        onboarding.first_kubeconfig_at = certificate.created_at
        onboarding.first_certificate = certificate
        onboarding.save(update_fields=["kubeconfig_started_at", "first_kubeconfig_at", "first_certificate"])
        _complete_if_ready(onboarding)


def _bindings_present(*, cluster, namespace: str, identity: str) -> bool:
    for binding in kube.list_objects(cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", namespace):
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "User" and subject.get("name") == identity:
                return True
    return False


def onboarding_check_access(onboarding_id: int) -> bool:
    """Check the newcomer's RoleBinding in every live namespace of the team; True once all exist.

    Called by the worker after the team's reconcile was enqueued. When every
    binding is there the join request's timeline moves to done. Namespaces not
    yet provisioned (Pending) are skipped: their bundle will include the
    member when they are created.
    """
    onboarding = Onboarding.objects.select_related("user", "team", "request").get(pk=onboarding_id)
    if onboarding.access_ready_at is not None:
        return True
    identity = onboarding.user.cluster_identity
    namespaces = namespaces_of_team(onboarding.team).exclude(phase=Namespace.Phase.PENDING).select_related("cluster")
    missing = []
    for ns in namespaces:
        try:
            if not _bindings_present(cluster=ns.cluster, namespace=ns.name, identity=identity):
                missing.append(f"{ns.cluster.name}/{ns.name}")
        except ClusterError as exc:
            missing.append(f"{ns.cluster.name}/{ns.name} ({exc})")
    now = timezone.now()
    with transaction.atomic():
        onboarding = Onboarding.objects.select_for_update().get(pk=onboarding_id)
        onboarding.access_checks += 1
        if missing:
            onboarding.save(update_fields=["access_checks"])
            # A reconcile normally lands within a second; only after that is
            # "still waiting" worth showing on the request's timeline.
            if onboarding.access_checks >= 10:
                request_note_waiting(onboarding.request, "waiting for RoleBindings in " + ", ".join(missing)[:900])
            return False
        onboarding.access_ready_at = now
        onboarding.save(update_fields=["access_checks", "access_ready_at"])
        request_mark_done(onboarding.request)
        audit_record(actor=None, action=Action.MEMBERSHIP_ACCESS_READY, target=onboarding.request, team=onboarding.team,
                     after={"user": onboarding.user.username, "namespaces": namespaces.count()})
        _complete_if_ready(onboarding)
    return True


def onboarding_give_up(onboarding_id: int, message: str) -> None:
    """The bindings never showed up: mark the join request failed with the reason (membership stays)."""
    onboarding = Onboarding.objects.select_related("request", "team").get(pk=onboarding_id)
    with transaction.atomic():
        if request_mark_failed(onboarding.request, error=message):
            audit_record(actor=None, action=Action.MEMBERSHIP_ACCESS_FAILED, target=onboarding.request, team=onboarding.team, message=message)


# --- Join-team requests ---------------------------------------------------------------------

JOINABLE_ROLES = (Membership.Role.MEMBER, Membership.Role.VIEWER)


@transaction.atomic
def membership_request_submit(*, actor, team: Team, role: str = Membership.Role.MEMBER, note: str = "",
                              idempotency_key: str = "") -> Request:
    """Ask to join ``team`` as member or viewer; a manager of the team decides (four-eyes).

    Anyone active may ask (that is how newcomers start), but only once at a
    time per team, and not for a team they are already in. Managers are made
    by other managers directly, not by request. With an ``idempotency_key``,
    asking again with the same key and fields returns the first request
    (``replayed``); other fields are ``IdempotencyKeyReused``.
    """

    def body(existing: Request) -> list[tuple[str, object, object]]:
        payload = existing.payload or {}
        return [("team", team.pk, existing.team_id), ("role", role, payload.get("role")), ("note", note or "", payload.get("note", ""))]

    replay = request_replay(actor=actor, kind=Request.Kind.MEMBERSHIP, idempotency_key=idempotency_key, body=body)
    if replay is not None:
        return replay
    if not actor.is_active:
        raise PermissionDenied("inactive users cannot ask to join a team")
    errors: dict[str, list[str]] = {}
    if role not in JOINABLE_ROLES:
        errors["role"] = [f"must be one of {', '.join(JOINABLE_ROLES)} (managers are appointed by a manager)"]
    if len(note or "") > 500:
        errors["note"] = ["must be at most 500 characters"]
    if team.archived:
        errors["team"] = [f"team {team.slug} is archived and takes no new members"]
    if errors:
        raise ValidationError(errors)
    # Serialise submissions per team so two clicks cannot create two open requests.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    if Membership.objects.filter(team=team, user=actor).exists():
        raise ValidationError({"team": [f"you are already in team {team.slug}"]})
    if Request.objects.filter(kind=Request.Kind.MEMBERSHIP, team=team, requester=actor, state=Request.State.SUBMITTED).exists():
        raise ValidationError({"team": [f"you already asked to join {team.slug}; wait for a manager's decision"]})
    return request_create(actor=actor, kind=Request.Kind.MEMBERSHIP, team=team, payload={"role": role, "note": note or ""},
                          idempotency_key=idempotency_key)


def membership_request_approve(*, actor, request: Request) -> None:
    """What approving a join request does: the membership, the request applying, the KPI, the bindings check.

    The request kind's ``approve`` hook (registered in ``OnboardingConfig.ready``),
    run by ``request_approve`` inside its transaction.
    """
    user = request.requester
    if not user.is_active:
        raise ServiceError(f"{user.username} is deactivated and cannot join a team")
    if Membership.objects.filter(team=request.team, user=user).exists():
        raise ServiceError(f"{user.username} is already in team {request.team.slug}")
    membership_add(actor=actor, team=request.team, user=user, role=request.payload.get("role", Membership.Role.MEMBER))
    request_mark_applying(request)
    onboarding = onboarding_start(request=request)
    # Enqueued after the team's reconcile (on_commit callbacks run in order),
    # so on a FIFO queue it usually finds the bindings on its first look.
    transaction.on_commit(lambda: confirm_access.delay(onboarding.pk))
