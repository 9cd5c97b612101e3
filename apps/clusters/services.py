"""Cluster services: register a cluster from a kubeconfig, check its health."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from pathlib import Path

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.clusters import kube, signals
from apps.clusters.models import Cluster
from apps.core.errors import ClusterError

log = logging.getLogger(__name__)


def _field(entries, name: str, what: str) -> dict:
    """The ``cluster``/``user``/``context`` body of the kubeconfig entry called ``name``."""
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            if not isinstance(body, dict):
                raise ValidationError({"kubeconfig": [f'{what} "{name}" has no {what} section']})
            return body
    raise ValidationError({"kubeconfig": [f'the kubeconfig has no {what} named "{name}"']})


def _data_or_file(section: dict, data_key: str, file_key: str, base_dir: Path | None, what: str) -> str:
    """Inline base64 ``*-data`` wins over a file path (as kubectl does); '' when neither is set."""
    if section.get(data_key):
        try:
            return base64.b64decode(section[data_key], validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ValidationError({"kubeconfig": [f"{data_key} is not valid base64 PEM ({what})"]}) from None
    if section.get(file_key):
        path = Path(section[file_key]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_text()
        except OSError as exc:
            raise ValidationError({"kubeconfig": [f"cannot read {what} file {path}: {exc.strerror}"]}) from None
    return ""


def parse_kubeconfig(text: str, context: str | None = None, *, base_dir: Path | None = None) -> dict:
    """Server, CA bundle and credentials of one context of a kubeconfig.

    Returns ``{"context", "server", "ca_bundle", "auth_kind", "credentials"}``.
    Only static credentials work for a portal that runs unattended: a bearer
    token (ServiceAccount) or a client certificate. ``exec`` and
    ``auth-provider`` plugins are refused with a clear message.
    """
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError({"kubeconfig": [f"not valid YAML: {exc}"]}) from None
    if not isinstance(config, dict) or not isinstance(config.get("contexts"), list):
        raise ValidationError({"kubeconfig": ["not a kubeconfig (no contexts)"]})
    context = context or config.get("current-context")
    if not context:
        names = ", ".join(c.get("name", "?") for c in config["contexts"] if isinstance(c, dict))
        raise ValidationError({"context": [f"the kubeconfig has no current-context; choose one of: {names}"]})
    try:
        ctx = _field(config["contexts"], context, "context")
    except ValidationError:
        names = ", ".join(c.get("name", "?") for c in config["contexts"] if isinstance(c, dict))
        raise ValidationError({"context": [f'no context "{context}" in the kubeconfig; it has: {names}']}) from None
    cluster_section = _field(config.get("clusters"), ctx.get("cluster", ""), "cluster")
    user_section = _field(config.get("users"), ctx.get("user", ""), "user")

    server = cluster_section.get("server") or ""
    if not server.startswith("https://"):
        raise ValidationError({"kubeconfig": [f"the cluster server must be an https:// URL, not {server!r}"]})
    if cluster_section.get("insecure-skip-tls-verify"):
        raise ValidationError({"kubeconfig": ["insecure-skip-tls-verify is not accepted: give the cluster's CA (certificate-authority-data)"]})
    ca_bundle = _data_or_file(cluster_section, "certificate-authority-data", "certificate-authority", base_dir, "certificate authority")

    if user_section.get("exec") or user_section.get("auth-provider"):
        raise ValidationError({"kubeconfig": [
            "exec/auth-provider credentials cannot be used by the portal; use a ServiceAccount token or a client certificate"
        ]})
    token = user_section.get("token") or ""
    if not token and user_section.get("tokenFile"):
        token = _data_or_file({"f": user_section["tokenFile"]}, "", "f", base_dir, "token").strip()
    cert = _data_or_file(user_section, "client-certificate-data", "client-certificate", base_dir, "client certificate")
    key = _data_or_file(user_section, "client-key-data", "client-key", base_dir, "client key")
    if token:
        auth_kind, credentials = Cluster.AuthKind.TOKEN, {"token": token}
    elif cert and key:
        auth_kind, credentials = Cluster.AuthKind.CLIENT_CERTIFICATE, {"client_certificate": cert, "client_key": key}
    elif cert or key:
        raise ValidationError({"kubeconfig": [f'user "{ctx.get("user")}" has a client certificate without its key (or a key without its certificate)']})
    else:
        raise ValidationError({"kubeconfig": [f'user "{ctx.get("user")}" has no credentials (token or client certificate)']})
    return {"context": context, "server": server, "ca_bundle": ca_bundle, "auth_kind": auth_kind, "credentials": credentials}


def cluster_snapshot(cluster: Cluster) -> dict:
    """What the audit log keeps of a cluster: never the credentials, only a CA fingerprint."""
    return {
        "name": cluster.name,
        "api_server_url": cluster.api_server_url,
        "auth_kind": cluster.auth_kind,
        "ca_sha256": hashlib.sha256(cluster.ca_bundle.encode()).hexdigest()[:16] if cluster.ca_bundle else "",
        "default_pod_security": cluster.default_pod_security,
        "labels": cluster.labels,
        "capacity": cluster.capacity,
    }


def cluster_register(*, actor, name: str, kubeconfig: str, context: str | None = None, base_dir: Path | None = None) -> Cluster:
    """Register (or update) cluster ``name`` from a kubeconfig; credentials are stored encrypted.

    ``actor`` is a platform admin, or None for the ``add_cluster`` command.
    The cluster is contacted once (``get_version``) to record its health; a
    cluster that is down is still registered, with the error shown as its
    health, so an admin can connect a cluster before it is reachable.
    """
    if actor is not None and not actor.is_platform_admin:
        raise PermissionDenied("only platform admins can register clusters")
    parsed = parse_kubeconfig(kubeconfig, context, base_dir=base_dir)
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().filter(name=name).first()
        created = cluster is None
        before = None if created else cluster_snapshot(cluster)
        if created:
            cluster = Cluster(name=name)
        cluster.api_server_url = parsed["server"]
        cluster.ca_bundle = parsed["ca_bundle"]
        cluster.auth_kind = parsed["auth_kind"]
        cluster.set_credentials(parsed["credentials"])
        cluster.portal_namespace = ""  # new credentials: detected again by the health check below
        cluster.full_clean()
        cluster.save()
        audit_record(actor=actor, action=Action.CLUSTER_REGISTER if created else Action.CLUSTER_UPDATE, target=cluster,
                     before=before, after={**cluster_snapshot(cluster), "context": parsed["context"]})
    return cluster_check_health(cluster)


def _service_account_namespace(username: str) -> str:
    """``system:serviceaccount:<namespace>:<name>`` -> namespace; "" for other identities."""
    parts = username.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return parts[2]
    return ""


def cluster_check_health(cluster: Cluster) -> Cluster:
    """Ask the API server for its version; record healthy/unreachable with the message.

    The first healthy check also records which namespace holds the portal's
    own ServiceAccount there (``portal_namespace``), reserved from then on.
    Writes only these columns (no audit row: health is an observation,
    not a change anyone made) so it never races with an admin's edit.
    """
    now = timezone.now()
    try:
        version = kube.get_version(cluster)
    except ClusterError as exc:
        fields = {"health": Cluster.Health.UNREACHABLE, "health_message": str(exc), "health_checked_at": now}
    else:
        fields = {"health": Cluster.Health.HEALTHY, "health_message": "", "health_checked_at": now, "server_version": version}
        if not cluster.portal_namespace:
            try:
                fields["portal_namespace"] = _service_account_namespace(kube.whoami(cluster))
            except ClusterError as exc:
                # Clusters older than 1.28 have no SelfSubjectReview; the
                # configured PORTAL_NAMESPACE still protects the usual place.
                log.warning("cluster %s: cannot tell which namespace the portal runs in: %s", cluster.name, exc)
    was = cluster.health
    Cluster.objects.filter(pk=cluster.pk).update(**fields)
    for attr, value in fields.items():
        setattr(cluster, attr, value)
    if was == Cluster.Health.UNREACHABLE and cluster.health == Cluster.Health.HEALTHY:
        log.info("cluster %s is reachable again", cluster.name)
        signals.cluster_recovered.send(sender=Cluster, cluster=cluster)
    return cluster


def clusters_check_health() -> int:
    """Check every cluster (the periodic task); returns how many are healthy."""
    healthy = 0
    for cluster in Cluster.objects.all():
        if cluster_check_health(cluster).health == Cluster.Health.HEALTHY:
            healthy += 1
    return healthy
