"""The namespace bundle: a Namespace row (+ its team's memberships) -> Kubernetes objects.

Pure functions, no database access and no clock: the same input always gives
the same list, in the same order, so the apply task, the preview before
approval, the YAML export and the "nothing changed" hash all agree
(MISSION.md section 2).

Bundle, in apply order (the Namespace must exist before anything inside it):

1. ``v1/Namespace`` with the portal's labels, Pod Security Admission labels
   and annotations (the row's ``uid`` as ownership mark, owner, contact,
   purpose, expiry, request);
2. ``v1/ResourceQuota`` ``team-quota`` with the approved hard values;
3. ``v1/LimitRange`` ``container-defaults`` (a quota makes pods without
   requests/limits fail admission, so every quota gets defaults);
4. ``networking.k8s.io/v1/NetworkPolicy`` ``default-deny-ingress`` and
   ``allow-same-namespace``;
5. one ``rbac.authorization.k8s.io/v1/RoleBinding`` per active team member,
   sorted by name.

Callers that have a database should go through
``apps.namespaces.selectors.bundle_for_namespace`` / ``bundle_for_request``,
which load the memberships and the originating request id consistently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

import yaml
from django.conf import settings

from apps.core import quantities

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "platform-portal"
# The book selects namespaces by this label in cross-namespace NetworkPolicies.
NETWORKING_LABEL = "networking/namespace"
PSA_PREFIX = "pod-security.kubernetes.io"

QUOTA_NAME = "team-quota"
LIMIT_RANGE_NAME = "container-defaults"
DENY_POLICY_NAME = "default-deny-ingress"
SAME_NAMESPACE_POLICY_NAME = "allow-same-namespace"

# Team role -> the ClusterRole its members are bound to in each namespace.
ROLE_CLUSTER_ROLES = {"member": "edit", "manager": "admin", "viewer": "view"}

# Container defaults (the book, Ch8): memory default 512Mi, defaultRequest
# 256Mi; cpu 500m / 100m. Clamped into the quota so a defaulted pod can
# always be admitted on an empty namespace.
DEFAULT_LIMITS = {"cpu": "500m", "memory": "512Mi"}
DEFAULT_REQUESTS = {"cpu": "100m", "memory": "256Mi"}

_LABEL_VALUE_INVALID = re.compile(r"[^a-z0-9-]+")


def key(name: str) -> str:
    """A label/annotation key under the portal's own domain prefix."""
    return f"{settings.PORTAL_LABEL_DOMAIN}/{name}"


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, ``Z`` suffix: the form Kubernetes itself writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def common_labels(namespace) -> dict[str, str]:
    """Labels every object of the bundle carries: who manages it and for which team."""
    return {MANAGED_BY_LABEL: MANAGED_BY, key("team"): namespace.team.slug}


def ownership_mark(namespace) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) that mark a Namespace object as this row's.

    The label says the portal manages it; the annotation names the row
    (its ``uid``), so a label copied onto someone else's namespace is not
    enough for the portal to write into it or delete it.
    """
    return {MANAGED_BY_LABEL: MANAGED_BY}, {key("namespace-id"): str(namespace.uid)}


def role_binding_name(username: str, cluster_role: str) -> str:
    """``portal-<user>-<clusterrole>``, a valid DNS-1123 subdomain for any Django username.

    The ClusterRole is part of the name because ``roleRef`` is immutable on
    a RoleBinding: a role change must create a new binding (and prune the
    old one) rather than update it, which the API server would refuse (422).
    Usernames with characters outside ``[a-z0-9-]`` are slugged and get a
    short hash so two different users can never share a binding name.
    """
    slug = _LABEL_VALUE_INVALID.sub("-", username.lower()).strip("-") or "user"
    if slug != username or len(slug) > 40:
        digest = hashlib.sha256(username.encode()).hexdigest()[:8]
        slug = f"{slug[:40].rstrip('-')}-{digest}"
    return f"portal-{slug}-{cluster_role}"


def _namespace_object(namespace, request_id) -> dict:
    # str(): an unsaved row may still hold the TextChoices member, not its value.
    level = str(namespace.pod_security_level)
    labels = {
        MANAGED_BY_LABEL: MANAGED_BY,
        NETWORKING_LABEL: namespace.name,
        f"{PSA_PREFIX}/audit": level,
        f"{PSA_PREFIX}/audit-version": "latest",
        f"{PSA_PREFIX}/enforce": level,
        f"{PSA_PREFIX}/enforce-version": "latest",
        f"{PSA_PREFIX}/warn": level,
        f"{PSA_PREFIX}/warn-version": "latest",
        key("team"): namespace.team.slug,
    }
    annotations = dict(ownership_mark(namespace)[1])
    if namespace.team.contact:
        annotations[key("contact")] = namespace.team.contact
    if namespace.expires_at is not None:
        annotations[key("expires-at")] = rfc3339(namespace.expires_at)
    owner = namespace.owner  # nullable FK: None without a query when unset
    if owner is not None:
        annotations[key("owner")] = owner.get_username()
    if namespace.purpose:
        annotations[key("purpose")] = namespace.purpose
    if request_id is not None:
        annotations[key("request")] = str(request_id)
    metadata = {"name": namespace.name, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def _metadata(namespace, name: str) -> dict:
    return {"name": name, "namespace": namespace.name, "labels": common_labels(namespace)}


def _resource_quota(namespace) -> dict:
    hard = {resource: str(value) for resource, value in sorted(namespace.quota.items())}
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _metadata(namespace, QUOTA_NAME), "spec": {"hard": hard}}


def container_defaults(quota: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(default, defaultRequest) for containers, clamped into the quota.

    ``defaultRequest.X <= requests.X`` and ``default.X <= limits.X`` so one
    defaulted container fits in the quota, and ``defaultRequest <= default``
    because the API server rejects a LimitRange whose default request exceeds
    its default limit. Quantities are compared as numbers, never strings.
    """
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    for resource in ("cpu", "memory"):
        limit = quantities.parse(DEFAULT_LIMITS[resource])
        request = quantities.parse(DEFAULT_REQUESTS[resource])
        cap_limit = _quota_value(quota, f"limits.{resource}")
        cap_request = _quota_value(quota, f"requests.{resource}")
        if cap_limit is not None:
            limit = min(limit, cap_limit)
        if cap_request is not None:
            request = min(request, cap_request)
        request = min(request, limit)
        limits[resource] = quantities.format_quantity(limit, resource)
        requests[resource] = quantities.format_quantity(request, resource)
    return limits, requests


def _quota_value(quota: dict, resource: str) -> Decimal | None:
    raw = quota.get(resource)
    if raw is None:
        return None
    try:
        return quantities.parse(raw)
    except ValueError:
        # Quotas are validated on submit; an unparsable stored value must not
        # break rendering (the API server will report it on apply instead).
        return None


def _limit_range(namespace) -> dict:
    default, default_request = container_defaults(namespace.quota)
    # A tier's own defaults win (QuotaTier.clean keeps them inside its quota).
    default.update(namespace.limit_defaults.get("default") or {})
    default_request.update(namespace.limit_defaults.get("defaultRequest") or {})
    for resource, request in default_request.items():  # the API server refuses defaultRequest > default
        if resource in default and quantities.parse(request) > quantities.parse(default[resource]):
            default_request[resource] = default[resource]
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(namespace, LIMIT_RANGE_NAME),
        "spec": {"limits": [{"type": "Container", "default": default, "defaultRequest": default_request}]},
    }


def _network_policies(namespace) -> list[dict]:
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(namespace, DENY_POLICY_NAME),
        # An empty podSelector selects every pod; Ingress with no rules denies all.
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    same = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(namespace, SAME_NAMESPACE_POLICY_NAME),
        # A bare podSelector in "from" means pods of this same namespace.
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
    }
    return [deny, same]


def _role_bindings(namespace, memberships: Iterable) -> list[dict]:
    bindings = []
    for membership in memberships:
        user = membership.user
        if not user.is_active:
            # Deactivated accounts lose their bindings like removed members.
            continue
        cluster_role = ROLE_CLUSTER_ROLES[membership.role]
        metadata = _metadata(namespace, role_binding_name(user.get_username(), cluster_role))
        metadata["annotations"] = {key("user"): user.get_username(), key("team-role"): membership.role}
        bindings.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user.cluster_identity}],
        })
    bindings.sort(key=lambda obj: obj["metadata"]["name"])
    return bindings


def render_bundle(namespace, memberships: Iterable, *, request_id: int | None = None) -> list[dict]:
    """Every object the portal manages for ``namespace``, in apply order.

    ``memberships`` are the team's Membership rows (with ``user`` loaded);
    ``request_id`` is the approval request that created the namespace, shown
    as an annotation when known.
    """
    return [
        _namespace_object(namespace, request_id),
        _resource_quota(namespace),
        _limit_range(namespace),
        *_network_policies(namespace),
        *_role_bindings(namespace, memberships),
    ]


def bundle_hash(objects: list[dict]) -> str:
    """SHA-256 of the canonical JSON of the bundle: equal hash => nothing to apply."""
    canonical = json.dumps(objects, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def object_ref(obj: dict) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``), for messages and logs."""
    meta = obj["metadata"]
    return "/".join(p for p in (obj["kind"], meta.get("namespace"), meta["name"]) if p)


def to_yaml(objects: list[dict]) -> str:
    """The bundle as a YAML stream (``---`` separated), exactly what ``kubectl apply -f`` takes."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, explicit_start=True)
