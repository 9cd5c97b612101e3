"""Admission: the built-in plugins kube-apiserver runs, in the same order.

Each rule follows its upstream source and quotes its messages:

* NamespaceLifecycle — staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go
* LimitRanger (defaults, min/max per Container) — plugin/pkg/admission/limitranger/admission.go
* RBAC escalation for roles and bindings — pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased,
  pkg/registry/rbac/escalation_check.go, pkg/registry/rbac/validation/rule.go
* CSR create preparation + validation — pkg/registry/certificates/certificates/strategy.go,
  pkg/apis/certificates/validation/validation.go
* PodSecurity — staging/src/k8s.io/pod-security-admission (admission/admission.go, policy/check_*.go)
* CertificateApproval — plugin/pkg/admission/certificates/approval/admission.go
* CertificateSubjectRestriction — plugin/pkg/admission/certificates/subjectrestriction/admission.go
* ResourceQuota — staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go

PodSecurity warnings (``warn`` label, and workloads such as Deployments, which
are never rejected) cannot travel in the return value, so they are collected
per thread: the server reads them with :func:`pop_warnings` and sends them as
``Warning`` headers, like the real API server.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import threading

from cryptography import x509

from . import controllers, errors, quantity, rbac, resources
from .types import Attributes, UserInfo

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_LEVELS = ("privileged", "baseline", "restricted")
KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"

_warnings = threading.local()


def pop_warnings() -> list[str]:
    """Warnings produced by admission in this thread since the last call (cleared on read)."""
    out = list(getattr(_warnings, "items", []))
    _warnings.items = []
    return out


def _warn(message: str) -> None:
    if not hasattr(_warnings, "items"):
        _warnings.items = []
    _warnings.items.append(message)


def _object_name(obj: dict | None, fallback: str = "") -> str:
    """extractResourceName: the object's name, else its generateName, else "Unknown"."""
    meta = (obj or {}).get("metadata") or {}
    return meta.get("name") or meta.get("generateName") or fallback or "Unknown"


def _forbidden(rt, obj: dict | None, why: str, name: str = "") -> errors.StatusError:
    """admission.NewForbidden: ``<resource> "<name>" is forbidden: <why>``."""
    return errors.forbidden(rt.group, rt.plural, _object_name(obj, name), why)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _join_quote(items) -> str:
    return ", ".join(_go_quote(i) for i in items)


def _pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


# ============================================================================= PodSecurity checks
def _containers(spec: dict):
    """visitContainers: init containers, containers, then ephemeral containers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _sc(container: dict) -> dict:
    return container.get("securityContext") or {}


def _check_host_namespaces(meta, spec):
    found = sorted(k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k))
    if found:
        return "host namespaces", ", ".join(found)
    return None


def _check_host_path_volumes(meta, spec):
    vols = [v.get("name", "") for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if vols:
        return "hostPath volumes", f"{_pluralize('volume', 'volumes', len(vols))} {_join_quote(vols)}"
    return None


def _check_host_ports(meta, spec):
    bad, ports = [], set()
    for c in _containers(spec):
        hp = [p.get("hostPort") for p in c.get("ports") or [] if p.get("hostPort")]
        if hp:
            bad.append(c.get("name", ""))
            ports.update(str(p) for p in hp)
    if bad:
        return "hostPort", (f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)} "
                            f"{_pluralize('uses', 'use', len(bad))} {_pluralize('hostPort', 'hostPorts', len(ports))} "
                            f"{', '.join(sorted(ports))}")
    return None


def _check_privileged(meta, spec):
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    if bad:
        return "privileged", f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)} must not set securityContext.privileged=true"
    return None


_BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def _check_capabilities_baseline(meta, spec):
    bad, caps = [], set()
    for c in _containers(spec):
        added = [a for a in (_sc(c).get("capabilities") or {}).get("add") or [] if a not in _BASELINE_CAPS]
        if added:
            bad.append(c.get("name", ""))
            caps.update(added)
    if bad:
        return "non-default capabilities", (f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)} "
                                            f"must not include {_join_quote(sorted(caps))} in securityContext.capabilities.add")
    return None


def _valid_seccomp(t) -> bool:
    return t in ("RuntimeDefault", "Localhost")


def _check_seccomp_baseline(meta, spec):
    setters, values = [], set()
    profile = (spec.get("securityContext") or {}).get("seccompProfile")
    if profile is not None and not _valid_seccomp(profile.get("type")):
        setters.append("pod")
        values.add(profile.get("type") or "")
    bad = []
    for c in _containers(spec):
        cp = _sc(c).get("seccompProfile")
        if cp is not None and not _valid_seccomp(cp.get("type")):
            bad.append(c.get("name", ""))
            values.add(cp.get("type") or "")
    if bad:
        setters.append(f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)}")
    if setters:
        return "seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {_join_quote(sorted(values))}"
    return None


def _check_allow_privilege_escalation(meta, spec):
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", (f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)} "
                                                     "must set securityContext.allowPrivilegeEscalation=false")
    return None


def _check_capabilities_restricted(meta, spec):
    missing_drop, adding, forbidden_caps = [], [], set()
    for c in _containers(spec):
        caps = _sc(c).get("capabilities")
        if caps is None:
            missing_drop.append(c.get("name", ""))
            continue
        if "ALL" not in (caps.get("drop") or []):
            missing_drop.append(c.get("name", ""))
        added = [a for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            adding.append(c.get("name", ""))
            forbidden_caps.update(added)
    details = []
    if missing_drop:
        details.append(f"{_pluralize('container', 'containers', len(missing_drop))} {_join_quote(missing_drop)} "
                       'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_pluralize('container', 'containers', len(adding))} {_join_quote(adding)} must not include "
                       f"{_join_quote(sorted(forbidden_caps))} in securityContext.capabilities.add")
    if details:
        return "unrestricted capabilities", "; ".join(details)
    return None


_ALLOWED_VOLUME_TYPES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                         "projected", "secret", "image")
_RESTRICTED_VOLUME_TYPES = ("gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
                            "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
                            "quobyte", "azureDisk", "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos",
                            "hostPath")


def _check_restricted_volumes(meta, spec):
    bad, types = [], set()
    for vol in spec.get("volumes") or []:
        if any(vol.get(t) is not None for t in _ALLOWED_VOLUME_TYPES):
            continue
        bad.append(vol.get("name", ""))
        found = [t for t in _RESTRICTED_VOLUME_TYPES if vol.get(t) is not None]
        types.add(found[0] if found else "unknown")
    if bad:
        return "restricted volume types", (f"{_pluralize('volume', 'volumes', len(bad))} {_join_quote(bad)} "
                                           f"{_pluralize('uses', 'use', len(bad))} "
                                           f"{_pluralize('restricted volume type', 'restricted volume types', len(types))} "
                                           f"{_join_quote(sorted(types))}")
    return None


def _check_run_as_non_root(meta, spec):
    setters = []
    pod_sc = spec.get("securityContext") or {}
    pod_non_root = False
    if pod_sc.get("runAsNonRoot") is not None:
        if not pod_sc["runAsNonRoot"]:
            setters.append("pod")
        else:
            pod_non_root = True
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is not None:
            if not value:
                explicit.append(c.get("name", ""))
        elif not pod_non_root:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(f"{_pluralize('container', 'containers', len(explicit))} {_join_quote(explicit)}")
    if setters:
        return "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return "runAsNonRoot != true", (f"pod or {_pluralize('container', 'containers', len(implicit))} "
                                        f"{_join_quote(implicit)} must set securityContext.runAsNonRoot=true")
    return None


def _check_run_as_user(meta, spec):
    setters = []
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        setters.append("pod")
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(f"{_pluralize('container', 'containers', len(bad))} {_join_quote(bad)}")
    if setters:
        return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    return None


def _check_seccomp_restricted(meta, spec):
    setters, values = [], set()
    profile = (spec.get("securityContext") or {}).get("seccompProfile")
    pod_set = False
    if profile is not None:
        if not _valid_seccomp(profile.get("type")):
            setters.append("pod")
            values.add(profile.get("type") or "")
        else:
            pod_set = True
    explicit, implicit = [], []
    for c in _containers(spec):
        cp = _sc(c).get("seccompProfile")
        if cp is not None:
            if not _valid_seccomp(cp.get("type")):
                explicit.append(c.get("name", ""))
                values.add(cp.get("type") or "")
        elif not pod_set:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(f"{_pluralize('container', 'containers', len(explicit))} {_join_quote(explicit)}")
    if setters:
        return "seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {_join_quote(sorted(values))}"
    if implicit:
        return "seccompProfile", (f"pod or {_pluralize('container', 'containers', len(implicit))} {_join_quote(implicit)} "
                                  'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return None


# Registration order is the order of the check_*.go files (Go runs init() per file
# in name order); EvaluatePod runs non-overlapping baseline checks first, then the
# overlapping baseline checks (baseline level) or the restricted checks.
_BASELINE = [_check_host_namespaces, _check_host_ports, _check_privileged]
_BASELINE_OVERLAP = [_check_capabilities_baseline, _check_host_path_volumes, _check_seccomp_baseline]
_RESTRICTED = [_check_allow_privilege_escalation, _check_capabilities_restricted, _check_restricted_volumes,
               _check_run_as_non_root, _check_run_as_user, _check_seccomp_restricted]


def evaluate_pod_security(level: str, pod_meta: dict, pod_spec: dict) -> str | None:
    """The aggregated ForbiddenDetail for ``level`` ("reason (detail), ..."), or None if allowed."""
    if level == "privileged":
        return None
    checks = _BASELINE + (_BASELINE_OVERLAP if level == "baseline" else _RESTRICTED)
    failures = [r for r in (check(pod_meta, pod_spec) for check in checks) if r]
    if not failures:
        return None
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in failures)


def _pod_template(rt, obj: dict) -> tuple[dict, dict] | None:
    """(metadata, spec) of the pod a workload would create (PodSpecExtractor)."""
    spec = obj.get("spec") or {}
    if rt.group == "batch" and rt.plural == "cronjobs":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    elif (rt.group == "apps" and rt.plural in ("deployments", "replicasets", "statefulsets", "daemonsets")) or (
            rt.group == "batch" and rt.plural == "jobs") or (rt.group == "" and rt.plural == "replicationcontrollers"):
        template = spec.get("template")
    else:
        return None
    if not isinstance(template, dict):
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def _namespace_policy(ns: dict | None, mode: str) -> tuple[str, str] | None:
    labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get(PSA_PREFIX + mode)
    if level not in PSA_LEVELS:
        return None
    version = labels.get(PSA_PREFIX + mode + "-version") or "latest"
    return level, version


# ============================================================================= CSR validation
_VALID_USAGES = sorted({
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
    "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc",
})
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _go_bytes(data: bytes) -> str:
    """Go's %#v of a []byte, as field.Invalid prints a CSR request."""
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def parse_csr(request: bytes) -> x509.CertificateSigningRequest:
    """certificates.ParseCSR + CheckSignature; raises ValueError with the real message."""
    text = request.decode("ascii", errors="replace")
    match = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----", text)
    if not match or match.group(1) != "CERTIFICATE REQUEST" or "-----END CERTIFICATE REQUEST-----" not in text:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(request)
    except ValueError as exc:
        raise ValueError(f"asn1: structure error: {exc}") from None
    if not csr.is_signature_valid:
        raise ValueError("x509: ECDSA verification failure" if "EC" in type(csr.public_key()).__name__
                         else "crypto/rsa: verification error")
    return csr


def validate_csr(obj: dict) -> list[dict]:
    """ValidateCertificateRequestCreate: the field errors as Status causes."""
    spec = obj.get("spec") or {}
    causes: list[dict] = []
    raw = spec.get("request")
    try:
        request = base64.b64decode(raw or "", validate=True)
    except (binascii.Error, ValueError):
        request = str(raw or "").encode()
    try:
        parse_csr(request)
    except ValueError as exc:
        causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {_go_bytes(request)}: {exc}",
                       "field": "spec.request"})
    usages = spec.get("usages") or []
    if not usages:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.usages"})
    seen = set()
    for i, usage in enumerate(usages):
        if usage not in _VALID_USAGES:
            causes.append({"reason": "FieldValueNotSupported",
                           "message": f"Unsupported value: {_go_quote(str(usage))}: supported values: {_join_quote(_VALID_USAGES)}",
                           "field": f"spec.usages[{i}]"})
        if usage in seen:
            causes.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {_go_quote(str(usage))}",
                           "field": f"spec.usages[{i}]"})
        seen.add(usage)
    signer = spec.get("signerName") or ""
    if not signer:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.signerName"})
    elif signer == "kubernetes.io/legacy-unknown":
        causes.append({"reason": "FieldValueInvalid",
                       "message": f"Invalid value: {_go_quote(signer)}: the legacy signerName is not allowed via this API version",
                       "field": "spec.signerName"})
    else:
        domain, _, path = signer.partition("/")
        if not path:
            causes.append({"reason": "FieldValueInvalid",
                           "message": f"Invalid value: {_go_quote(signer)}: must be a fully qualified domain and path of the form 'example.com/signer-name'",
                           "field": "spec.signerName"})
        elif not _DNS1123_SUBDOMAIN.match(domain) or "." not in domain:
            causes.append({"reason": "FieldValueInvalid",
                           "message": f"Invalid value: {_go_quote(domain)}: should be a domain with at least two segments separated by dots",
                           "field": "spec.signerName"})
    seconds = spec.get("expirationSeconds")
    if seconds is not None and isinstance(seconds, int) and seconds < 600:
        causes.append({"reason": "FieldValueInvalid",
                       "message": f"Invalid value: {seconds}: may not specify a duration less than 600 seconds (10 minutes)",
                       "field": "spec.expirationSeconds"})
    return causes


def populate_condition_timestamps(new: dict, old: dict | None) -> None:
    """populateConditionTimestamps (CSR strategy): missing lastUpdateTime/lastTransitionTime become now.

    lastTransitionTime is kept from an existing condition of the same type and status.
    """
    import datetime as dt

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    old_conditions = ((old or {}).get("status") or {}).get("conditions") or []
    for cond in (new.get("status") or {}).get("conditions") or []:
        if not cond.get("lastUpdateTime"):
            cond["lastUpdateTime"] = now
        if not cond.get("lastTransitionTime"):
            previous = next((o.get("lastTransitionTime") for o in old_conditions if o.get("type") == cond.get("type")
                             and o.get("status") == cond.get("status") and o.get("lastTransitionTime")), None)
            cond["lastTransitionTime"] = previous or now


def validate_csr_conditions(obj: dict) -> list[dict]:
    """validateConditions for status/approval updates: types, statuses, duplicates, Approved xor Denied."""
    causes = []
    seen = set()
    approved = denied = False
    for i, cond in enumerate((obj.get("status") or {}).get("conditions") or []):
        ctype, status = cond.get("type") or "", cond.get("status") or ""
        path = f"status.conditions[{i}]"
        if not ctype:
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{path}.type"})
        if not status:
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{path}.status"})
        elif status not in ("False", "True", "Unknown"):
            causes.append({"reason": "FieldValueNotSupported",
                           "message": f'Unsupported value: {_go_quote(status)}: supported values: "False", "True", "Unknown"',
                           "field": f"{path}.status"})
        if ctype in ("Approved", "Denied"):
            if ctype == "Approved":
                approved = True
            else:
                denied = True
            if status != "True":
                causes.append({"reason": "FieldValueInvalid",
                               "message": f"Invalid value: {_go_quote(status)}: {ctype} condition may only be set to True",
                               "field": f"{path}.status"})
        if ctype in seen:
            causes.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {_go_quote(ctype)}", "field": f"{path}.type"})
        seen.add(ctype)
    if approved and denied:
        causes.append({"reason": "FieldValueInvalid",
                       "message": "Invalid value: \"Approved, Denied\": Approved and Denied conditions are mutually exclusive",
                       "field": "status.conditions"})
    return causes


def default_container_requests(pod: dict) -> None:
    """API defaulting of pods (SetDefaults_Pod): a limit without a request makes the request equal the limit.

    It runs before admission in the real server, so LimitRanger and ResourceQuota see
    the defaulted requests; kubesim applies it here to keep that order.
    """
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            res = container.get("resources") or {}
            limits = res.get("limits") or {}
            if not limits:
                continue
            requests = res.setdefault("requests", {})
            for name, value in limits.items():
                requests.setdefault(name, value)


# ============================================================================= the admission chain
class Admission:
    """Runs the admission plugins for one write."""

    def __init__(self, store, authorizer):
        self.store = store
        self.authorizer = authorizer
        self.NS = resources.lookup("", "v1", "namespaces")
        self.RQ = resources.lookup("", "v1", "resourcequotas")
        self.LIMITRANGES = resources.lookup("", "v1", "limitranges")

    def admit(self, operation: str, rt, obj: dict | None, old: dict | None, user: UserInfo,
              subresource: str = "", dry_run: bool = False) -> dict | None:
        """Admit (and possibly mutate) one write; raises :class:`errors.StatusError` when refused.

        ``operation`` is "CREATE", "UPDATE" or "DELETE"; ``obj`` the incoming object
        (None for DELETE), ``old`` the stored one (None for CREATE). The returned
        object is the one to store. ``dry_run`` changes nothing here: admission
        never writes, so a dry run is admitted exactly like the real request.
        """
        obj = copy.deepcopy(obj) if obj is not None else None
        namespace = self._namespace_of(rt, obj, old)
        self.namespace_lifecycle(operation, rt, obj, old, namespace)
        if obj is None:
            return None
        if rt.group == "" and rt.plural == "pods" and operation == "CREATE" and not subresource:
            default_container_requests(obj)
            self.limit_ranger(rt, obj, namespace)
        if rt.group == rbac.RBAC_GROUP and not subresource and operation in ("CREATE", "UPDATE"):
            self.rbac_escalation(operation, rt, obj, old, user, namespace)
        if rt.group == "certificates.k8s.io" and rt.plural == "certificatesigningrequests":
            if operation == "CREATE" and not subresource:
                self.prepare_csr(obj, user)
                causes = validate_csr(obj)
                if causes:
                    raise errors.invalid("certificates.k8s.io", "CertificateSigningRequest", _object_name(obj, ""), causes)
        if rt.group == "" and rt.plural == "namespaces" and operation in ("CREATE", "UPDATE"):
            self.validate_pod_security_labels(obj)
        if operation in ("CREATE", "UPDATE") and subresource in ("", "ephemeralcontainers"):
            self.pod_security(operation, rt, obj, old, namespace)
        if rt.group == "certificates.k8s.io" and rt.plural == "certificatesigningrequests":
            if subresource in ("approval", "status") and operation == "UPDATE":
                populate_condition_timestamps(obj, old)
                causes = validate_csr_conditions(obj)
                if causes:
                    raise errors.invalid("certificates.k8s.io", "CertificateSigningRequest", _object_name(obj, ""), causes)
            if subresource == "approval" and operation == "UPDATE":
                self.certificate_approval(rt, obj, user)
            if operation == "CREATE" and not subresource:
                self.certificate_subject_restriction(rt, obj)
        if operation == "CREATE" and not subresource and rt.namespaced and namespace:
            self.resource_quota(rt, obj, namespace)
        return obj

    @staticmethod
    def _namespace_of(rt, obj, old) -> str:
        if not rt.namespaced:
            return ""
        for source in (obj, old):
            ns = ((source or {}).get("metadata") or {}).get("namespace")
            if ns:
                return ns
        return ""

    # ----------------------------------------------------------------- NamespaceLifecycle
    def namespace_lifecycle(self, operation: str, rt, obj, old, namespace: str) -> None:
        """404 for a missing namespace, 403 in a Terminating one, immortal namespaces."""
        is_namespace = rt.group == "" and rt.plural == "namespaces"
        if is_namespace:
            name = _object_name(obj or old, "")
            if operation == "DELETE" and name in IMMORTAL_NAMESPACES:
                raise errors.forbidden("", "namespaces", name, "this namespace may not be deleted")
            return
        if not namespace or operation == "DELETE":
            return
        if rt.group == "authorization.k8s.io" and rt.plural == "localsubjectaccessreviews":
            return  # access reviews must not reveal whether a namespace exists
        ns = self.store.get(self.NS, None, namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if operation == "CREATE" and (ns.get("status") or {}).get("phase") == "Terminating":
            err = _forbidden(rt, obj, f"unable to create new content in namespace {namespace} because it is being terminated")
            err.details.setdefault("causes", []).append({
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            })
            raise err

    # ----------------------------------------------------------------- LimitRanger
    def _limit_ranges(self, namespace: str) -> list[dict]:
        items, _ = self.store.list(self.LIMITRANGES, namespace)
        return items

    @staticmethod
    def _container_item_defaults(item: dict) -> tuple[dict, dict]:
        """(default limits, default requests) of a Container LimitRangeItem, after API defaulting.

        SetDefaults_LimitRangeItem: a missing ``default`` falls back to ``max``, a
        missing ``defaultRequest`` to ``default`` and then ``min``.
        """
        limits = dict(item.get("max") or {})
        limits.update(item.get("default") or {})
        requests = dict(item.get("min") or {})
        requests.update({k: v for k, v in limits.items() if k not in (item.get("defaultRequest") or {})})
        requests.update(item.get("defaultRequest") or {})
        return limits, requests

    def limit_ranger(self, rt, pod: dict, namespace: str) -> None:
        """Apply Container defaults, then enforce Container min/max (403 like the real plugin)."""
        ranges = self._limit_ranges(namespace)
        if not ranges:
            return
        spec = pod.setdefault("spec", {})
        annotations: list[str] = []
        for lr in ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                default_limits, default_requests = self._container_item_defaults(item)
                for key, prefix in (("initContainers", "init container"), ("containers", "container")):
                    for container in spec.get(key) or []:
                        resources_ = container.setdefault("resources", {})
                        set_limits, set_requests = [], []
                        limits = resources_.setdefault("limits", {})
                        for name, value in default_limits.items():
                            if name not in limits:
                                limits[name] = value
                                set_limits.append(name)
                        requests = resources_.setdefault("requests", {})
                        for name, value in default_requests.items():
                            if name not in requests:
                                requests[name] = value
                                set_requests.append(name)
                        if not limits:
                            resources_.pop("limits")
                        if not requests:
                            resources_.pop("requests")
                        if not resources_:
                            container.pop("resources")
                        if set_requests:
                            annotations.append(f"{', '.join(sorted(set_requests))} request for {prefix} {container.get('name', '')}")
                        if set_limits:
                            annotations.append(f"{', '.join(sorted(set_limits))} limit for {prefix} {container.get('name', '')}")
        if annotations:
            meta = pod.setdefault("metadata", {})
            meta.setdefault("annotations", {})[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(annotations)
        problems: list[str] = []
        for lr in ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
                    res = container.get("resources") or {}
                    requests = quantity.resource_list(res.get("requests"))
                    limits = quantity.resource_list(res.get("limits"))
                    for name, minimum in sorted(quantity.resource_list(item.get("min")).items()):
                        if name not in requests:
                            problems.append(f"minimum {name} usage per Container is {minimum}.  No request is specified")
                        elif requests[name] < minimum:
                            problems.append(f"minimum {name} usage per Container is {minimum}, but request is {requests[name]}")
                    for name, maximum in sorted(quantity.resource_list(item.get("max")).items()):
                        if name not in limits:
                            problems.append(f"maximum {name} usage per Container is {maximum}.  No limit is specified")
                        elif maximum < limits[name]:
                            problems.append(f"maximum {name} usage per Container is {maximum}, but limit is {limits[name]}")
        if problems:
            why = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            raise _forbidden(rt, pod, why)

    # ----------------------------------------------------------------- RBAC escalation
    def _authorized(self, user: UserInfo, verb: str, resource: str, name: str, namespace: str, group: str) -> bool:
        return self.authorizer.authorize(Attributes(user=user, verb=verb, api_group=group, api_version="v1",
                                                    resource=resource, namespace=namespace, name=name))[0]

    @staticmethod
    def _only_gc_fields_changed(obj: dict, old: dict | None) -> bool:
        """IsOnlyMutatingGCFields: ownerReferences/finalizers are the only difference."""
        if old is None:
            return False

        def strip(o):
            o = copy.deepcopy(o)
            meta = o.get("metadata") or {}
            for key in ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation",
                        "creationTimestamp", "uid"):
                meta.pop(key, None)
            o.pop("status", None)
            return o

        return strip(obj) == strip(old)

    def rbac_escalation(self, operation: str, rt, obj: dict, old: dict | None, user: UserInfo, namespace: str) -> None:
        """A user may only grant what they hold, unless they have ``escalate``/``bind`` (or are system:masters)."""
        if rbac.escalation_allowed(user):
            return
        if operation == "UPDATE" and self._only_gc_fields_changed(obj, old):
            return
        name = _object_name(obj, "")
        if rt.plural in ("roles", "clusterroles"):
            if self._authorized(user, "escalate", rt.plural, name, namespace, rbac.RBAC_GROUP):
                return
            if rt.plural == "clusterroles" and obj.get("aggregationRule"):
                if rbac.confirm_no_escalation(self.authorizer, user, "", rbac.FULL_AUTHORITY):
                    raise errors.forbidden(rt.group, rt.plural, name, "must have cluster-admin privileges to use the aggregationRule")
            why = rbac.confirm_no_escalation(self.authorizer, user, namespace, obj.get("rules") or [])
            if why:
                raise errors.forbidden(rt.group, rt.plural, name, why)
            return
        if rt.plural in ("rolebindings", "clusterrolebindings"):
            role_ref = obj.get("roleRef") or {}
            ref_resource = {"Role": "roles", "ClusterRole": "clusterroles"}.get(role_ref.get("kind"))
            if ref_resource and self._authorized(user, "bind", ref_resource, role_ref.get("name", ""), namespace,
                                                 role_ref.get("apiGroup", rbac.RBAC_GROUP)):
                return
            try:
                rules = self.authorizer.role_reference_rules(role_ref, namespace)
            except rbac.RuleResolutionError as exc:
                raise errors.forbidden(rt.group, rt.plural, name, str(exc)) from None
            why = rbac.confirm_no_escalation(self.authorizer, user, namespace, rules)
            if why:
                raise errors.forbidden(rt.group, rt.plural, name, why)

    # ----------------------------------------------------------------- CSRs
    @staticmethod
    def prepare_csr(obj: dict, user: UserInfo) -> None:
        """PrepareForCreate: the requester's identity is recorded by the server, never trusted from the body."""
        spec = obj.setdefault("spec", {})
        spec["username"] = user.name
        spec["groups"] = list(user.groups)
        if user.uid:
            spec["uid"] = user.uid
        else:
            spec.pop("uid", None)
        if user.extra:
            spec["extra"] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in user.extra.items()}
        else:
            spec.pop("extra", None)
        obj.pop("status", None)

    def certificate_approval(self, rt, obj: dict, user: UserInfo) -> None:
        """Approving or denying needs ``approve`` on signers/<signerName> (or <domain>/*)."""
        signer = (obj.get("spec") or {}).get("signerName") or ""
        if self.authorized_for_signer(user, "approve", signer):
            return
        raise _forbidden(rt, obj, f"user not permitted to approve requests with signerName {_go_quote(signer)}")

    def authorized_for_signer(self, user: UserInfo, verb: str, signer: str) -> bool:
        """certificates.IsAuthorizedForSignerName: the exact signer, then the ``<domain>/*`` wildcard."""
        if self._authorized(user, verb, "signers", signer, "", "certificates.k8s.io"):
            return True
        domain = signer.split("/", 1)[0]
        return self._authorized(user, verb, "signers", f"{domain}/*", "", "certificates.k8s.io")

    @staticmethod
    def certificate_subject_restriction(rt, obj: dict) -> None:
        """kube-apiserver-client certificates may not carry the system:masters group."""
        spec = obj.get("spec") or {}
        if spec.get("signerName") != KUBE_APISERVER_CLIENT:
            return
        try:
            csr = parse_csr(base64.b64decode(spec.get("request") or ""))
        except (ValueError, binascii.Error) as exc:
            raise _forbidden(rt, obj, f"failed to parse CSR: {exc}") from None
        orgs = [a.value for a in csr.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)]
        if "system:masters" in orgs:
            raise _forbidden(rt, obj, f"use of {KUBE_APISERVER_CLIENT} signer with system:masters group is not allowed")

    # ----------------------------------------------------------------- PodSecurity
    def validate_pod_security_labels(self, ns: dict) -> None:
        """Namespace labels must name a real level (the PodSecurity webhook's namespace validation)."""
        labels = (ns.get("metadata") or {}).get("labels") or {}
        causes = []
        for mode in ("enforce", "audit", "warn"):
            key = PSA_PREFIX + mode
            if key in labels and labels[key] not in PSA_LEVELS:
                causes.append({"reason": "FieldValueInvalid",
                               "message": f"Invalid value: {_go_quote(labels[key])}: must be one of privileged, baseline, restricted",
                               "field": f"metadata.labels[{key}]"})
            vkey = key + "-version"
            if vkey in labels and not re.match(r"^(latest|v1\.(0|[1-9][0-9]*))$", labels[vkey]):
                causes.append({"reason": "FieldValueInvalid",
                               "message": f'Invalid value: {_go_quote(labels[vkey])}: must be "latest" or "v1.x"',
                               "field": f"metadata.labels[{vkey}]"})
        if causes:
            raise errors.invalid("", "Namespace", _object_name(ns, ""), causes)

    def pod_security(self, operation: str, rt, obj: dict, old: dict | None, namespace: str) -> None:
        """Enforce on pods; warn (never reject) for pods and workload templates per the ``warn`` label."""
        if not namespace:
            return
        is_pod = rt.group == "" and rt.plural == "pods"
        if is_pod:
            if operation == "UPDATE" and old is not None and (old.get("spec") == obj.get("spec")):
                return  # metadata/status-only updates are not re-evaluated
            pod_meta, pod_spec = obj.get("metadata") or {}, obj.get("spec") or {}
        else:
            template = _pod_template(rt, obj)
            if template is None:
                return
            if operation == "UPDATE" and old is not None and _pod_template(rt, old) == template:
                return
            pod_meta, pod_spec = template
        ns = self.store.get(self.NS, None, namespace)
        enforce = _namespace_policy(ns, "enforce")
        if is_pod and enforce:
            detail = evaluate_pod_security(enforce[0], pod_meta, pod_spec)
            if detail:
                raise _forbidden(rt, obj, f'violates PodSecurity "{enforce[0]}:{enforce[1]}": {detail}')
        warn = _namespace_policy(ns, "warn")
        if warn and (not is_pod or warn != enforce):
            detail = evaluate_pod_security(warn[0], pod_meta, pod_spec)
            if detail:
                _warn(f'would violate PodSecurity "{warn[0]}:{warn[1]}": {detail}')

    # ----------------------------------------------------------------- ResourceQuota
    def resource_quota(self, rt, obj: dict, namespace: str) -> None:
        """Reject a create that lacks required requests/limits or would exceed a quota."""
        quotas, _ = self.store.list(self.RQ, namespace)
        if not quotas:
            return
        is_pod = rt.group == "" and rt.plural == "pods"
        delta = controllers.object_usage(rt, obj)
        checks = []
        for quota in quotas:
            hard = quantity.resource_list(((quota.get("status") or {}).get("hard")) or (quota.get("spec") or {}).get("hard"))
            matched = controllers.matching_resources(rt, hard.keys())
            if not matched:
                continue
            if is_pod:
                missing = self._pod_constraints(obj, matched)
                if missing:
                    raise _forbidden(rt, obj, f"failed quota: {quota['metadata']['name']}: {missing}")
            checks.append((quota, hard, matched))
        for quota, hard, matched in checks:
            requested = {k: delta[k] for k in matched if k in delta}
            if not requested:
                continue
            used = controllers.namespace_usage(self.store, namespace, requested.keys())
            exceeded = sorted(k for k, v in requested.items() if hard[k] < used.get(k, quantity.ZERO) + v)
            if exceeded:
                raise _forbidden(rt, obj, "exceeded quota: {}, requested: {}, used: {}, limited: {}".format(
                    quota["metadata"]["name"],
                    quantity.print_list({k: requested[k] for k in exceeded}),
                    quantity.print_list({k: used.get(k, quantity.ZERO) for k in exceeded}),
                    quantity.print_list({k: hard[k] for k in exceeded}),
                ))

    @staticmethod
    def _pod_constraints(pod: dict, matched: list[str]) -> str:
        """podEvaluator.Constraints: every container must state what a quota limits (cpu/memory)."""
        required = {k for k in matched if k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")}
        if not required:
            return ""
        missing: dict[str, set[str]] = {}
        spec = pod.get("spec") or {}
        for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
            res = container.get("resources") or {}
            have = set(controllers.compute_usage(quantity.resource_list(res.get("requests")),
                                                 quantity.resource_list(res.get("limits"))))
            for name in required - have:
                missing.setdefault(name, set()).add(container.get("name", ""))
        if not missing:
            return ""
        return "must specify " + "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))
