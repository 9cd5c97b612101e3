"""The registry of resource types kubesim serves.

Each :class:`ResourceType` mirrors one entry of a real API server's discovery
document (``/api/v1`` or ``/apis/<group>/<version>``): plural, kind, scope,
short names, verbs and subresources. kubectl resolves ``get ns`` or
``get quota`` from exactly these fields, so the short names match the real
ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class ResourceType:
    """One served resource (a group/version/plural)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    # Virtual resources (access reviews, SelfSubjectReview) are answered and
    # never stored; ``stored`` tells the server which path to take.
    stored: bool = True
    categories: tuple[str, ...] = ()
    # Served because a CustomResourceDefinition says so: its objects keep the
    # fields their schema allows (``schema``: the CRD's openAPIV3Schema).
    custom: bool = False
    schema: dict | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """``plural.group`` as used in Status messages (``pods``, ``roles.rbac.authorization.k8s.io``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_lock = threading.RLock()
_by_path: dict[tuple[str, str, str], ResourceType] = {}
_by_kind: dict[tuple[str, str], ResourceType] = {}
_order: list[ResourceType] = []


def register(rt: ResourceType) -> None:
    """Add (or replace) a resource type; used at import and for Gatekeeper constraint kinds."""
    with _lock:
        key = (rt.group, rt.version, rt.plural)
        old = _by_path.get(key)
        if old is not None:
            _order.remove(old)
        _by_path[key] = rt
        _by_kind[(rt.api_version, rt.kind)] = rt
        _order.append(rt)


def unregister(group: str, version: str, plural: str) -> None:
    """Remove a resource type (a deleted ConstraintTemplate's constraint kind)."""
    with _lock:
        rt = _by_path.pop((group, version, plural), None)
        if rt is not None:
            _order.remove(rt)
            _by_kind.pop((rt.api_version, rt.kind), None)


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    """Find a type by its URL coordinates."""
    return _by_path.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """Find a type by the ``apiVersion``/``kind`` of an object."""
    return _by_kind.get((api_version, kind))


def kinds_in_group(group: str) -> list[ResourceType]:
    """Every type of a group (any version); used for 'no matches for kind' messages."""
    with _lock:
        return [rt for rt in _order if rt.group == group]


def all_types() -> list[ResourceType]:
    """Every registered type, in registration order."""
    with _lock:
        return list(_order)


def group_versions() -> list[tuple[str, str]]:
    """Distinct (group, version) pairs served, core first, in registration order."""
    seen: list[tuple[str, str]] = []
    for rt in all_types():
        gv = (rt.group, rt.version)
        if gv not in seen:
            seen.append(gv)
    return seen


def get(api_version: str, kind: str) -> ResourceType:
    """Like :func:`by_kind` but raising ``KeyError``; convenient in tests and controllers."""
    rt = by_kind(api_version, kind)
    if rt is None:
        raise KeyError(f"{api_version} {kind}")
    return rt


def _core(plural, kind, namespaced, short=(), sub=(), verbs=ALL_VERBS, singular="", categories=()):
    return ResourceType("", "v1", plural, kind, namespaced, singular or kind.lower(), tuple(short), verbs, tuple(sub), True, tuple(categories))


_BUILTINS = [
    _core("namespaces", "Namespace", False, ("ns",), ("status", "finalize"),
          verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _core("resourcequotas", "ResourceQuota", True, ("quota",), ("status",)),
    _core("limitranges", "LimitRange", True, ("limits",)),
    _core("serviceaccounts", "ServiceAccount", True, ("sa",), ("token",)),
    _core("pods", "Pod", True, ("po",), ("status",), categories=("all",)),
    _core("configmaps", "ConfigMap", True, ("cm",)),
    _core("secrets", "Secret", True),
    _core("events", "Event", True, ("ev",)),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), ("status",)),
    _core("services", "Service", True, ("svc",), ("status",), categories=("all",),
          verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "rolebinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, "clusterrolebinding"),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "networkpolicy", ("netpol",)),
    ResourceType("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",), ALL_VERBS, ("status",),
                 categories=("all",)),
    # What the portal's own install package (deploy/kubernetes) holds besides the above.
    ResourceType("batch", "v1", "jobs", "Job", True, "job", (), ALL_VERBS, ("status",), categories=("all",)),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, "ingress", ("ing",), ALL_VERBS, ("status",)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "poddisruptionbudget", ("pdb",),
                 ALL_VERBS, ("status",)),
    ResourceType("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
                 "certificatesigningrequest", ("csr",), ALL_VERBS, ("approval", "status")),
    ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
                 "selfsubjectaccessreview", (), CREATE_ONLY, (), False),
    ResourceType("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False,
                 "selfsubjectrulesreview", (), CREATE_ONLY, (), False),
    ResourceType("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False,
                 "subjectaccessreview", (), CREATE_ONLY, (), False),
    ResourceType("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True,
                 "localsubjectaccessreview", (), CREATE_ONLY, (), False),
    ResourceType("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False,
                 "selfsubjectreview", (), CREATE_ONLY, (), False),
    ResourceType("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False,
                 "tokenreview", (), CREATE_ONLY, (), False),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", ("crd", "crds"), ALL_VERBS, ("status",), categories=("api-extensions",)),
    ResourceType("templates.gatekeeper.sh", "v1", "constrainttemplates", "ConstraintTemplate", False,
                 "constrainttemplate", (), ALL_VERBS, ("status",)),
    ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels", "K8sRequiredLabels", False,
                 "k8srequiredlabels", (), ALL_VERBS, ("status",), categories=("constraint", "constraints")),
    ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8sallowedrepos", "K8sAllowedRepos", False,
                 "k8sallowedrepos", (), ALL_VERBS, ("status",), categories=("constraint", "constraints")),
    ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8scontainerlimits", "K8sContainerLimits", False,
                 "k8scontainerlimits", (), ALL_VERBS, ("status",), categories=("constraint", "constraints")),
    ResourceType("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", True, "policyreport", ("polr",)),
    ResourceType("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport", False,
                 "clusterpolicyreport", ("cpolr",)),
]

for _rt in _BUILTINS:
    register(_rt)

# Handy names for the types other modules use a lot.
NAMESPACES = lookup("", "v1", "namespaces")
PODS = lookup("", "v1", "pods")
CSRS = lookup("certificates.k8s.io", "v1", "certificatesigningrequests")

# Resources of the gatekeeper constraint group are cluster scoped custom resources
# with a status subresource; the constraint template controller registers more.
CONSTRAINTS_GROUP = "constraints.gatekeeper.sh"

# Custom resources (CRD-backed in a real cluster) keep unknown fields and get no
# strategic-merge support: a strategic merge patch against them is a 415.
CUSTOM_GROUPS = frozenset({"templates.gatekeeper.sh", CONSTRAINTS_GROUP, "wgpolicyk8s.io", "apiextensions.k8s.io"})


def is_custom(rt: ResourceType) -> bool:
    """True for CRD-backed kinds (Gatekeeper, policy reports, anything a CustomResourceDefinition serves)."""
    return rt.custom or rt.group in CUSTOM_GROUPS
