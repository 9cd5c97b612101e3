"""The few controllers that make kubesim's objects behave like a cluster's.

They hook into :meth:`Store.add_listener` and run synchronously in the writing
request's thread, so by the time a client sees its write acknowledged the
consequences are in the store too (quota usage, a signed certificate, a
namespace gone). Real clusters converge a moment later; tests here need not
poll, and kubectl's ``wait`` still works because it just finds the end state.

* ResourceQuota status (pkg/controller/resourcequota): ``status.hard`` mirrors
  ``spec.hard``; ``status.used`` is recomputed from pods, PVCs and object
  counts in the namespace whenever one of them changes.
* CSR signing for ``kubernetes.io/kube-apiserver-client``
  (pkg/controller/certificates/signer): once Approved (and neither Denied nor
  Failed) the CA signs, honouring ``expirationSeconds`` (at least 600 s, at
  most the cluster signing duration); usages the signer does not allow mark
  the CSR Failed with reason ``SignerValidationFailure``.
* Namespace finalization (pkg/controller/namespace): a Terminating namespace
  has its content deleted, then disappears once nothing is left (objects held
  by finalizers keep it Terminating, as in a real cluster).
* ClusterRole aggregation (pkg/controller/clusterroleaggregation).
* CustomResourceDefinitions and Gatekeeper ConstraintTemplates (:mod:`kubesim.crds`).
"""

from __future__ import annotations

import base64
import logging
import threading

from . import errors, quantity, rbac, resources
from .crds import CustomResources
from .quantity import Quantity

log = logging.getLogger(__name__)

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
# kube-controller-manager --cluster-signing-duration default: one year.
CLUSTER_SIGNING_SECONDS = 365 * 24 * 3600
MIN_EXPIRATION_SECONDS = 600

# Resource names the pod evaluator owns (pkg/quota/v1/evaluator/core/pods.go).
_POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
# Core kinds that also have a legacy (non "count/") object count name.
_LEGACY_COUNT = {"services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas"}


def _rt(group: str, version: str, plural: str):
    return resources.lookup(group, version, plural)


# ----------------------------------------------------------------------------- quota usage
def pod_is_terminal(pod: dict) -> bool:
    """QuotaV1Pod's converse: Succeeded/Failed pods no longer use compute quota."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_requests_limits(pod: dict) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """resourcehelper.PodRequests/PodLimits: sum over containers, at least the largest init container, plus overhead."""
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for container in spec.get("containers") or []:
        res = container.get("resources") or {}
        requests = quantity.add_lists(requests, quantity.resource_list(res.get("requests")))
        limits = quantity.add_lists(limits, quantity.resource_list(res.get("limits")))
    for container in spec.get("initContainers") or []:
        res = container.get("resources") or {}
        for target, source in ((requests, res.get("requests")), (limits, res.get("limits"))):
            for key, value in quantity.resource_list(source).items():
                if key not in target or target[key] < value:
                    target[key] = value
    overhead = quantity.resource_list(spec.get("overhead"))
    if overhead:
        requests = quantity.add_lists(requests, overhead)
        limits = quantity.add_lists(limits, {k: v for k, v in overhead.items() if k in limits})
    return requests, limits


def compute_usage(requests: dict[str, Quantity], limits: dict[str, Quantity]) -> dict[str, Quantity]:
    """podComputeUsageHelper: pods=1 plus cpu/memory/ephemeral-storage as plain, requests.* and limits.* names."""
    usage = {"pods": quantity.parse("1")}
    for name in _POD_COMPUTE:
        if name in requests:
            usage[name] = requests[name]
            usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            usage[f"requests.{name}"] = value
        elif "/" in name and not name.startswith("requests."):
            usage[f"requests.{name}"] = value  # extended resources are quota'd by request
    return usage


def pod_usage(pod: dict) -> dict[str, Quantity]:
    """The quota usage of one pod (PodUsageFunc)."""
    usage = {"count/pods": quantity.parse("1")}
    if pod_is_terminal(pod):
        return usage
    requests, limits = pod_requests_limits(pod)
    return quantity.add_lists(usage, compute_usage(requests, limits))


def pvc_usage(pvc: dict) -> dict[str, Quantity]:
    """The quota usage of one PersistentVolumeClaim (pkg/quota/v1/evaluator/core/persistent_volume_claims.go)."""
    one = quantity.parse("1")
    usage = {"count/persistentvolumeclaims": one, "persistentvolumeclaims": one}
    spec = pvc.get("spec") or {}
    storage = quantity.resource_list(((spec.get("resources") or {}).get("requests")) or {}).get("storage")
    klass = spec.get("storageClassName") or ""
    if storage is not None:
        usage["requests.storage"] = storage
    if klass:
        usage[f"{klass}.storageclass.storage.k8s.io/persistentvolumeclaims"] = one
        if storage is not None:
            usage[f"{klass}.storageclass.storage.k8s.io/requests.storage"] = storage
    return usage


def count_name(rt) -> str:
    """``count/<resource>[.<group>]``, the generic object-count quota name."""
    return f"count/{rt.plural}.{rt.group}" if rt.group else f"count/{rt.plural}"


def object_usage(rt, obj: dict) -> dict[str, Quantity]:
    """The quota usage of any object: evaluator-specific for pods/PVCs, else its object count."""
    if rt.group == "" and rt.plural == "pods":
        return pod_usage(obj)
    if rt.group == "" and rt.plural == "persistentvolumeclaims":
        return pvc_usage(obj)
    one = quantity.parse("1")
    usage = {count_name(rt): one}
    if rt.group == "" and rt.plural in _LEGACY_COUNT:
        usage[rt.plural] = one
    if rt.group == "" and rt.plural == "services":
        stype = (obj.get("spec") or {}).get("type")
        if stype == "LoadBalancer":
            usage["services.loadbalancers"] = one
        if stype in ("LoadBalancer", "NodePort"):
            # every port of a NodePort/LoadBalancer service is allocated a node port
            usage["services.nodeports"] = quantity.parse(str(len((obj.get("spec") or {}).get("ports") or [])))
    return usage


def matching_resources(rt, names) -> list[str]:
    """The hard-limit names an evaluator for ``rt`` is responsible for (Evaluator.MatchingResources)."""
    out = []
    for name in names:
        if rt.group == "" and rt.plural == "pods":
            base = name.removeprefix("requests.").removeprefix("limits.")
            if name in ("pods", "count/pods") or base in _POD_COMPUTE or base.startswith("hugepages-") or (
                    name.startswith("requests.") and "/" in name):
                out.append(name)
        elif rt.group == "" and rt.plural == "persistentvolumeclaims":
            if name in ("persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage") or \
                    ".storageclass.storage.k8s.io/" in name:
                out.append(name)
        elif name == count_name(rt) or (rt.group == "" and name == rt.plural and rt.plural in _LEGACY_COUNT) or (
                rt.group == "" and rt.plural == "services" and name in ("services.loadbalancers", "services.nodeports")):
            out.append(name)
    return out


def _type_for_quota_name(name: str):
    """The resource type whose objects a hard-limit name counts, or None."""
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        for rt in resources.all_types():
            if rt.plural == plural and rt.group == group:
                return rt
        return None
    if name in _LEGACY_COUNT or name in ("services.loadbalancers", "services.nodeports"):
        return _rt("", "v1", name.split(".")[0])
    if name in ("requests.storage",) or ".storageclass.storage.k8s.io/" in name:
        return _rt("", "v1", "persistentvolumeclaims")
    return _rt("", "v1", "pods")


def namespace_usage(store, namespace: str, names) -> dict[str, Quantity]:
    """Current usage in ``namespace`` for each quota resource name in ``names`` (0 when nothing uses it)."""
    names = list(names)
    by_type: dict = {}
    for name in names:
        rt = _type_for_quota_name(name)
        if rt is not None:
            by_type.setdefault(rt, []).append(name)
    used: dict[str, Quantity] = {}
    for rt, rt_names in by_type.items():
        total: dict[str, Quantity] = {}
        if rt.group == "" and rt.plural in ("pods", "persistentvolumeclaims", "services"):
            items, _ = store.list(rt, namespace)
            for obj in items:
                total = quantity.add_lists(total, object_usage(rt, obj))
        else:
            # Plain object counts need no object bodies.
            n = store.count(rt, namespace) if hasattr(store, "count") else len(store.list(rt, namespace)[0])
            for name in rt_names:
                total[name] = quantity.parse(str(n))
        for name in rt_names:
            used[name] = total.get(name, quantity.ZERO)
    return used


# ----------------------------------------------------------------------------- controllers
class Controllers:
    """Store listener running kubesim's built-in controllers."""

    def __init__(self, store, ca):
        self.store = store
        self.ca = ca
        self._lock = threading.RLock()
        # Namespaces being finalized by this thread: deletions of their content
        # re-enter on_change and must not start a nested finalization.
        self._local = threading.local()
        self.RQ = _rt("", "v1", "resourcequotas")
        self.NS = _rt("", "v1", "namespaces")
        self.CSR = _rt("certificates.k8s.io", "v1", "certificatesigningrequests")
        self.CLUSTERROLES = _rt(rbac.RBAC_GROUP, "v1", "clusterroles")
        self.custom = CustomResources(store)

    # ------------------------------------------------------------------ dispatch
    def on_change(self, rt, event_type: str, obj: dict, old: dict | None) -> None:
        """React to one committed write (registered with ``store.add_listener``)."""
        try:
            if self.custom.on_change(rt, event_type, obj, old):
                return
            if rt == self.NS:
                if (obj.get("status") or {}).get("phase") == "Terminating" and event_type != "DELETED":
                    self.finalize_namespace(obj["metadata"]["name"])
                return
            if rt == self.CSR:
                if event_type != "DELETED":
                    self.sign_if_approved(obj)
                return
            if rt == self.CLUSTERROLES:
                # Recompute only when this write can change an aggregated role: re-aggregating
                # every ClusterRole on each write made seeding and role-heavy tests quadratic.
                roles, _ = self.store.list(self.CLUSTERROLES)
                if rbac.aggregation_affected(roles, obj, old):
                    self.aggregate_cluster_roles()  # re-lists under the lock: no stale copy
                return
            if rt.namespaced:
                namespace = (obj.get("metadata") or {}).get("namespace") or ""
                if not namespace:
                    return
                if event_type == "DELETED" and self._namespace_terminating(namespace):
                    # Content of a Terminating namespace went away: maybe it can go now.
                    self.finalize_namespace(namespace)
                    return
                self.sync_quotas(namespace, changed=rt)
        except errors.StatusError as exc:
            # Races with concurrent writers (409, 404) are settled by the next event or resync.
            log.debug("controller skipped %s %s: %s", rt.plural, event_type, exc.message)

    def resync(self) -> None:
        """Bring everything to its desired state once (start-up, after loading persisted objects)."""
        self.aggregate_cluster_roles()
        self.custom.resync()
        namespaces, _ = self.store.list(self.NS)
        for ns in namespaces:
            if (ns.get("status") or {}).get("phase") == "Terminating":
                self.finalize_namespace(ns["metadata"]["name"])
        quotas, _ = self.store.list(self.RQ)
        for ns_name in sorted({q["metadata"]["namespace"] for q in quotas}):
            self.sync_quotas(ns_name)
        csrs, _ = self.store.list(self.CSR)
        for csr in csrs:
            self.sign_if_approved(csr)

    # ------------------------------------------------------------------ quota
    def sync_quotas(self, namespace: str, changed=None) -> None:
        """Recompute ``status`` of every ResourceQuota in ``namespace``; writes only real changes."""
        if changed is not None and changed != self.RQ and self.store.count(self.RQ, namespace) == 0:
            return
        quotas, _ = self.store.list(self.RQ, namespace)
        for quota in quotas:
            if changed is not None and changed != self.RQ and \
                    not matching_resources(changed, ((quota.get("spec") or {}).get("hard") or {}).keys()):
                continue
            for _attempt in range(5):
                if self._sync_quota(quota):
                    break
                quota = self.store.get(self.RQ, namespace, quota["metadata"]["name"])
                if quota is None:
                    break

    def quota_status(self, quota: dict) -> dict:
        """The status the quota controller would write for ``quota`` now."""
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        parsed = quantity.resource_list(hard)
        used = namespace_usage(self.store, quota["metadata"]["namespace"], parsed.keys())
        return {
            "hard": {k: str(v) for k, v in parsed.items()},
            "used": {k: str(used.get(k, quantity.ZERO)) for k in parsed},
        }

    def _sync_quota(self, quota: dict) -> bool:
        """Write one quota's status if it changed; False on a write conflict (caller retries)."""
        status = self.quota_status(quota)
        if quota.get("status") == status:
            return True
        updated = dict(quota)
        updated["status"] = status
        try:
            self.store.update(self.RQ, updated, subresource="status")
        except errors.StatusError as exc:
            if exc.code == 409:
                return False
            if exc.code == 404:
                return True
            raise
        return True

    # ------------------------------------------------------------------ CSR signing
    def sign_if_approved(self, csr: dict) -> None:
        """Issue the certificate of an Approved kube-apiserver-client CSR (or mark it Failed)."""
        spec = csr.get("spec") or {}
        status = csr.get("status") or {}
        if spec.get("signerName") != KUBE_APISERVER_CLIENT or status.get("certificate"):
            return
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status", "True") == "True"}
        if "Approved" not in conditions or "Denied" in conditions or "Failed" in conditions:
            return
        problem = validate_client_usages(spec.get("usages") or [])
        new = dict(csr)
        new_status = dict(status)
        if problem:
            new_status["conditions"] = list(status.get("conditions") or []) + [{
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": problem,
                "lastUpdateTime": _now(), "lastTransitionTime": _now(),
            }]
        else:
            try:
                request = base64.b64decode(spec.get("request") or "")
                seconds = spec.get("expirationSeconds")
                duration = CLUSTER_SIGNING_SECONDS
                if seconds:
                    duration = min(max(int(seconds), MIN_EXPIRATION_SECONDS), CLUSTER_SIGNING_SECONDS)
                cert_pem = self.ca.sign_csr(request, list(spec.get("usages") or []), duration)
            except (ValueError, TypeError) as exc:
                # The real signer logs and retries a CSR it cannot parse; validation keeps these out.
                log.warning("cannot sign CSR %s: %s", csr["metadata"]["name"], exc)
                return
            new_status["certificate"] = base64.b64encode(cert_pem).decode()
        new["status"] = new_status
        self.store.update(self.CSR, new, subresource="status")

    # ------------------------------------------------------------------ namespaces
    def _namespace_terminating(self, name: str) -> bool:
        ns = self.store.get(self.NS, None, name)
        return ns is not None and (ns.get("status") or {}).get("phase") == "Terminating"

    def finalize_namespace(self, name: str) -> None:
        """Delete everything in a Terminating namespace, then the namespace once it is empty."""
        active = getattr(self._local, "finalizing", None)
        if active is None:
            active = self._local.finalizing = set()
        if name in active:
            return
        active.add(name)
        try:
            with self._lock:
                remaining = 0
                for rt in resources.all_types():
                    if not rt.namespaced or not getattr(rt, "stored", True):
                        continue
                    items, _ = self.store.list(rt, name)
                    for obj in items:
                        meta = obj.get("metadata") or {}
                        if meta.get("finalizers"):
                            remaining += 1
                            if meta.get("deletionTimestamp"):
                                continue
                        try:
                            self.store.delete(rt, name, meta.get("name", ""))
                        except errors.StatusError as exc:
                            if exc.code != 404:
                                raise
                if remaining:
                    return  # objects held by finalizers keep the namespace Terminating
                ns = self.store.get(self.NS, None, name)
                if ns is None or (ns.get("status") or {}).get("phase") != "Terminating":
                    return
                try:
                    self.store.delete(self.NS, None, name)
                except errors.StatusError as exc:
                    if exc.code != 404:
                        raise
        finally:
            active.discard(name)

    # ------------------------------------------------------------------ aggregation
    def aggregate_cluster_roles(self) -> None:
        """Recompute ``rules`` of every ClusterRole with an aggregationRule; write the ones that changed."""
        with self._lock:
            roles, _ = self.store.list(self.CLUSTERROLES)
            before = {r["metadata"]["name"]: list(r.get("rules") or []) for r in roles}
            rbac.aggregate_all(roles)
            for role in roles:
                if role.get("aggregationRule") and (role.get("rules") or []) != before[role["metadata"]["name"]]:
                    try:
                        self.store.update(self.CLUSTERROLES, role)
                    except errors.StatusError as exc:
                        if exc.code not in (404, 409):
                            raise


def validate_client_usages(usages: list[str]) -> str | None:
    """The kube-apiserver-client signer's usage rule; the error text the signer puts in the Failed condition."""
    has_client_auth = False
    for usage in usages:
        if usage in ("digital signature", "key encipherment"):
            continue
        if usage == "client auth":
            has_client_auth = True
            continue
        return f"invalid usage for client certificate: {usage}"
    if not has_client_auth:
        return "missing required usage for client certificate: client auth"
    return None


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
