"""PodSecurity: a namespace's ``pod-security.kubernetes.io/`` labels, enforced on pods and warned about for workloads.

As staging/src/k8s.io/pod-security-admission (admission/admission.go, policy/check_*.go).
"""

from __future__ import annotations

import re

from .. import errors, resources
from .plugin import AdmissionRequest, Plugin, add_warning, forbidden, go_quote, join_quote, object_name

PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_LEVELS = ("privileged", "baseline", "restricted")


class PodSecurity(Plugin):
    operations = frozenset({"CREATE", "UPDATE"})

    def __init__(self, store, authorizer):
        super().__init__(store, authorizer)
        self.NS = resources.lookup("", "v1", "namespaces")

    def admit(self, a: AdmissionRequest) -> None:
        """Namespace labels must be valid; enforce on pods; warn (never reject) for pods and workload templates per the ``warn`` label."""
        operation, rt, obj, old, namespace = a.operation, a.rt, a.obj, a.old, a.namespace
        if rt.group == "" and rt.plural == "namespaces":
            self.validate_namespace_labels(obj)
            if operation == "UPDATE" and old is not None and a.subresource == "":
                self.warn_existing_pods(obj, old)
        if a.subresource not in ("", "ephemeralcontainers"):
            return
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
                raise forbidden(rt, obj, f'violates PodSecurity "{enforce[0]}:{enforce[1]}": {detail}')
        warn = _namespace_policy(ns, "warn")
        if warn and (not is_pod or warn != enforce):
            detail = evaluate_pod_security(warn[0], pod_meta, pod_spec)
            if detail:
                add_warning(f'would violate PodSecurity "{warn[0]}:{warn[1]}": {detail}')

    def warn_existing_pods(self, ns: dict, old: dict) -> None:
        """A stricter ``enforce`` label: warn about the namespace's pods that violate it (they keep running).

        As the PodSecurity admission's namespace check (validateNamespace):
        one warning naming the level, then one per offending pod.
        """
        enforce = _namespace_policy(ns, "enforce")
        if not enforce or enforce == _namespace_policy(old, "enforce"):
            return
        name = object_name(ns, "")
        pods, _ = self.store.list(resources.PODS, name)
        offending = []
        for pod in pods:
            detail = evaluate_pod_security(enforce[0], pod.get("metadata") or {}, pod.get("spec") or {})
            if detail:
                offending.append(f"{object_name(pod, '')}: {detail}")
        if offending:
            add_warning(f'existing pods in namespace "{name}" violate the new PodSecurity enforce level "{enforce[0]}:{enforce[1]}"')
            for line in offending:
                add_warning(line)

    @staticmethod
    def validate_namespace_labels(ns: dict) -> None:
        """Namespace labels must name a real level (the PodSecurity webhook's namespace validation)."""
        labels = (ns.get("metadata") or {}).get("labels") or {}
        causes = []
        for mode in ("enforce", "audit", "warn"):
            key = PSA_PREFIX + mode
            if key in labels and labels[key] not in PSA_LEVELS:
                causes.append({"reason": "FieldValueInvalid",
                               "message": f"Invalid value: {go_quote(labels[key])}: must be one of privileged, baseline, restricted",
                               "field": f"metadata.labels[{key}]"})
            vkey = key + "-version"
            if vkey in labels and not re.match(r"^(latest|v1\.(0|[1-9][0-9]*))$", labels[vkey]):
                causes.append({"reason": "FieldValueInvalid",
                               "message": f'Invalid value: {go_quote(labels[vkey])}: must be "latest" or "v1.x"',
                               "field": f"metadata.labels[{vkey}]"})
        if causes:
            raise errors.invalid("", "Namespace", object_name(ns, ""), causes)


def _pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


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
        return "hostPath volumes", f"{_pluralize('volume', 'volumes', len(vols))} {join_quote(vols)}"
    return None


def _check_host_ports(meta, spec):
    bad, ports = [], set()
    for c in _containers(spec):
        hp = [p.get("hostPort") for p in c.get("ports") or [] if p.get("hostPort")]
        if hp:
            bad.append(c.get("name", ""))
            ports.update(str(p) for p in hp)
    if bad:
        return "hostPort", (f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
                            f"{_pluralize('uses', 'use', len(bad))} {_pluralize('hostPort', 'hostPorts', len(ports))} "
                            f"{', '.join(sorted(ports))}")
    return None


def _check_privileged(meta, spec):
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    if bad:
        return "privileged", f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)} must not set securityContext.privileged=true"
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
        return "non-default capabilities", (f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
                                            f"must not include {join_quote(sorted(caps))} in securityContext.capabilities.add")
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
        setters.append(f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)}")
    if setters:
        return "seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}"
    return None


def _check_allow_privilege_escalation(meta, spec):
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", (f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
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
        details.append(f"{_pluralize('container', 'containers', len(missing_drop))} {join_quote(missing_drop)} "
                       'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_pluralize('container', 'containers', len(adding))} {join_quote(adding)} must not include "
                       f"{join_quote(sorted(forbidden_caps))} in securityContext.capabilities.add")
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
        return "restricted volume types", (f"{_pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
                                           f"{_pluralize('uses', 'use', len(bad))} "
                                           f"{_pluralize('restricted volume type', 'restricted volume types', len(types))} "
                                           f"{join_quote(sorted(types))}")
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
        setters.append(f"{_pluralize('container', 'containers', len(explicit))} {join_quote(explicit)}")
    if setters:
        return "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return "runAsNonRoot != true", (f"pod or {_pluralize('container', 'containers', len(implicit))} "
                                        f"{join_quote(implicit)} must set securityContext.runAsNonRoot=true")
    return None


def _check_run_as_user(meta, spec):
    setters = []
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        setters.append("pod")
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(f"{_pluralize('container', 'containers', len(bad))} {join_quote(bad)}")
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
        setters.append(f"{_pluralize('container', 'containers', len(explicit))} {join_quote(explicit)}")
    if setters:
        return "seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}"
    if implicit:
        return "seccompProfile", (f"pod or {_pluralize('container', 'containers', len(implicit))} {join_quote(implicit)} "
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

