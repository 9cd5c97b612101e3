"""Object validation and defaulting, with the real API server's field error messages.

``validate_create`` / ``validate_update`` raise a 422 ``Invalid`` StatusError
whose ``details.causes`` list every field error, formatted as
``k8s.io/apimachinery/pkg/util/validation/field`` does
(``metadata.name: Invalid value: "Bad": a lowercase RFC 1123 label ...``).
Only the checks that matter to clients are implemented; see the README's
fidelity gaps.
"""

from __future__ import annotations

import json
import random
import re

from . import errors, quantity
from .resources import ResourceType

# ----------------------------------------------------------- message helpers
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE_FMT = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
CONFIGMAP_KEY_FMT = "[-._a-zA-Z0-9]+"

_label_re = re.compile("^" + DNS1123_LABEL_FMT + "$")
_subdomain_re = re.compile("^" + DNS1123_SUBDOMAIN_FMT + "$")
_dns1035_re = re.compile("^" + DNS1035_LABEL_FMT + "$")
_label_value_re = re.compile("^" + LABEL_VALUE_FMT + "$")
_qualified_re = re.compile("^" + QUALIFIED_NAME_FMT + "$")
_cm_key_re = re.compile("^" + CONFIGMAP_KEY_FMT + "$")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError: the message, examples and the regex, with Go's exact spacing."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    out = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            out += " or "
        out += f"'{ex}', "
    return out + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _label_re.match(value):
        if _subdomain_re.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
                "and end with an alphanumeric character", DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _subdomain_re.match(value):
        errs.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
            "start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _dns1035_re.match(value):
        errs.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character", DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    """path.IsValidPathSegmentName, used for RBAC and CSR names."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    errs = []
    for ch in ("/", "%"):
        if ch in value:
            errs.append(f"may not contain '{ch}'")
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _label_value_re.match(value):
        errs.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character", LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label/annotation key: optional DNS subdomain prefix + '/' + name part."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        prefix = None
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part " + "must be non-empty"]
    else:
        return [regex_error(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character", QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    errs = []
    if prefix is not None:
        errs += ["prefix part " + e for e in is_dns1123_subdomain(prefix)]
    if not name:
        errs.append("name part must be non-empty")
    else:
        if len(name) > 63:
            errs.append("name part " + max_len_error(63))
        if not _qualified_re.match(name):
            errs.append("name part " + regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character", QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def _go_quote(value) -> str:
    """How field.Invalid prints a value: strings quoted, others as Go would (numbers, bool, null)."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


class Causes:
    """Collects field errors as Status causes."""

    def __init__(self):
        self.items: list[dict] = []

    def invalid(self, field: str, value, detail: str) -> None:
        self.items.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {_go_quote(value)}: {detail}", "field": field})

    def required(self, field: str, detail: str = "") -> None:
        msg = "Required value" + (f": {detail}" if detail else "")
        self.items.append({"reason": "FieldValueRequired", "message": msg, "field": field})

    def unsupported(self, field: str, value, supported: list[str]) -> None:
        sup = ", ".join(json.dumps(s) for s in supported)
        self.items.append({"reason": "FieldValueNotSupported",
                           "message": f"Unsupported value: {_go_quote(value)}: supported values: {sup}", "field": field})

    def forbidden(self, field: str, detail: str) -> None:
        self.items.append({"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field})

    def duplicate(self, field: str, value) -> None:
        self.items.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {_go_quote(value)}", "field": field})

    def type_invalid(self, field: str, value, detail: str) -> None:
        self.items.append({"reason": "FieldValueTypeInvalid", "message": f"Invalid value: {_go_quote(value)}: {detail}", "field": field})

    def raise_if_any(self, rt: ResourceType, name: str) -> None:
        if self.items:
            raise errors.invalid(rt.group, rt.kind, name, self.items)


# ---------------------------------------------------------------- name rules
def _name_validator(rt: ResourceType):
    if rt.plural == "namespaces":
        return is_dns1123_label
    if rt.plural == "services":
        return is_dns1035_label
    if rt.group in ("rbac.authorization.k8s.io", "certificates.k8s.io"):
        return is_path_segment_name
    return is_dns1123_subdomain


_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def apply_generate_name(obj: dict) -> None:
    """Fill ``metadata.name`` from ``generateName`` plus five random characters, as the real server does."""
    meta = obj.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        base = meta["generateName"][: 63 - 5]
        meta["name"] = base + "".join(random.choice(_GENERATE_CHARS) for _ in range(5))


def _validate_metadata(rt: ResourceType, obj: dict, c: Causes) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        c.required("metadata.name", "name or generateName is required")
        return
    name = meta.get("name")
    if not name:
        c.required("metadata.name", "name or generateName is required")
    elif not isinstance(name, str):
        c.invalid("metadata.name", name, "must be a string")
    else:
        for msg in _name_validator(rt)(name):
            c.invalid("metadata.name", name, msg)
    if rt.namespaced and not meta.get("namespace"):
        c.required("metadata.namespace")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            c.type_invalid(f"metadata.{field}", value, "must be a map of strings")
            continue
        for k, v in value.items():
            for msg in is_qualified_name(k):
                c.invalid(f"metadata.{field}", k, msg)
            if field == "labels":
                if not isinstance(v, str):
                    c.type_invalid(f"metadata.labels[{k}]", v, "must be a string")
                else:
                    for msg in is_label_value(v):
                        c.invalid("metadata.labels", v, msg)
            elif not isinstance(v, str):
                c.type_invalid(f"metadata.annotations[{k}]", v, "must be a string")


# ---------------------------------------------------------------- kind rules
def _validate_rules(rules, c: Causes, cluster: bool) -> None:
    if rules is None:
        return
    if not isinstance(rules, list):
        c.type_invalid("rules", rules, "must be a list")
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            c.type_invalid(f"rules[{i}]", rule, "must be an object")
            continue
        if not rule.get("verbs"):
            c.required(f"rules[{i}].verbs", "verbs must contain at least one value")
        if rule.get("nonResourceURLs"):
            if not cluster:
                c.invalid(f"rules[{i}].nonResourceURLs", rule["nonResourceURLs"],
                          "namespaced rules cannot apply to non-resource URLs")
            if rule.get("resources") or rule.get("apiGroups"):
                c.invalid(f"rules[{i}].nonResourceURLs", rule["nonResourceURLs"],
                          "rules cannot apply to both regular resources and non-resource URLs")
        else:
            if not rule.get("resources"):
                c.required(f"rules[{i}].resources", "resource rules must supply at least one resource")
            if rule.get("apiGroups") is None:
                c.required(f"rules[{i}].apiGroups", "resource rules must supply at least one api group")


def _validate_binding(obj: dict, c: Causes, cluster: bool) -> None:
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        c.required("roleRef.name")
        return
    supported = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        c.unsupported("roleRef.apiGroup", ref.get("apiGroup", ""), ["rbac.authorization.k8s.io"])
    if ref.get("kind") not in supported:
        c.unsupported("roleRef.kind", ref.get("kind", ""), supported)
    if not ref.get("name"):
        c.required("roleRef.name")
    subjects = obj.get("subjects") or []
    if not isinstance(subjects, list):
        c.type_invalid("subjects", subjects, "must be a list")
        return
    for i, s in enumerate(subjects):
        if not isinstance(s, dict):
            c.type_invalid(f"subjects[{i}]", s, "must be an object")
            continue
        if not s.get("name"):
            c.required(f"subjects[{i}].name")
        kind = s.get("kind")
        if kind not in ("ServiceAccount", "User", "Group"):
            c.unsupported(f"subjects[{i}].kind", kind or "", ["ServiceAccount", "User", "Group"])
        elif kind == "ServiceAccount":
            if s.get("apiGroup"):
                c.unsupported(f"subjects[{i}].apiGroup", s["apiGroup"], [""])
            if cluster and not s.get("namespace"):
                c.required(f"subjects[{i}].namespace")
        elif s.get("apiGroup") != "rbac.authorization.k8s.io":
            c.unsupported(f"subjects[{i}].apiGroup", s.get("apiGroup", ""), ["rbac.authorization.k8s.io"])


QUANTITY_MSG = quantity.ERR_FORMAT_WRONG


def _validate_quantities(field: str, values, c: Causes) -> None:
    if values is None:
        return
    if not isinstance(values, dict):
        c.type_invalid(field, values, "must be a map of quantities")
        return
    for k, v in values.items():
        # Quantity.UnmarshalJSON: trim whitespace, then ParseQuantity (its own message).
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            c.invalid(f"{field}[{k}]", v, QUANTITY_MSG)
            continue
        try:
            quantity.validate_json(v)
        except quantity.QuantityError as exc:
            c.invalid(f"{field}[{k}]", v, str(exc))


def _validate_pod_spec(spec, path: str, c: Causes) -> None:
    if not isinstance(spec, dict):
        c.required(path)
        return
    containers = spec.get("containers")
    if not containers:
        c.required(f"{path}.containers")
        return
    if not isinstance(containers, list):
        c.type_invalid(f"{path}.containers", containers, "must be a list")
        return
    seen = set()
    for kind in ("initContainers", "containers"):
        for i, ctr in enumerate(spec.get(kind) or []):
            p = f"{path}.{kind}[{i}]"
            if not isinstance(ctr, dict):
                c.type_invalid(p, ctr, "must be an object")
                continue
            name = ctr.get("name")
            if not name:
                c.required(f"{p}.name")
            else:
                for msg in is_dns1123_label(name):
                    c.invalid(f"{p}.name", name, msg)
                if name in seen:
                    c.duplicate(f"{p}.name", name)
                seen.add(name)
            if not ctr.get("image"):
                c.required(f"{p}.image")
            res = ctr.get("resources") or {}
            if isinstance(res, dict):
                _validate_quantities(f"{p}.resources.requests", res.get("requests"), c)
                _validate_quantities(f"{p}.resources.limits", res.get("limits"), c)


def _validate_kind(rt: ResourceType, obj: dict, c: Causes) -> None:
    key = (rt.group, rt.plural)
    if key == ("rbac.authorization.k8s.io", "roles"):
        _validate_rules(obj.get("rules"), c, cluster=False)
    elif key == ("rbac.authorization.k8s.io", "clusterroles"):
        _validate_rules(obj.get("rules"), c, cluster=True)
    elif key == ("rbac.authorization.k8s.io", "rolebindings"):
        _validate_binding(obj, c, cluster=False)
    elif key == ("rbac.authorization.k8s.io", "clusterrolebindings"):
        _validate_binding(obj, c, cluster=True)
    elif key == ("", "pods"):
        _validate_pod_spec(obj.get("spec"), "spec", c)
    elif key == ("apps", "deployments"):
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            c.required("spec.selector")
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if selector and isinstance(selector, dict):
            wanted = selector.get("matchLabels") or {}
            if any(labels.get(k) != v for k, v in wanted.items()):
                c.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        _validate_pod_spec(tmpl.get("spec"), "spec.template.spec", c)
        replicas = spec.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
            c.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    elif key in (("", "resourcequotas"),):
        _validate_quantities("spec.hard", (obj.get("spec") or {}).get("hard"), c)
    elif key == ("", "configmaps") or key == ("", "secrets"):
        for field in ("data", "binaryData", "stringData"):
            data = obj.get(field)
            if data is None:
                continue
            if not isinstance(data, dict):
                c.type_invalid(field, data, "must be a map")
                continue
            for k in data:
                if not _cm_key_re.match(k):
                    c.invalid(f"{field}[{k}]", k, regex_error(
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                        CONFIGMAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    elif key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        _validate_crd(obj, c)
    elif key == ("", "limitranges"):
        for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
            if not isinstance(item, dict) or not item.get("type"):
                c.required(f"spec.limits[{i}].type")
                continue
            for f in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                _validate_quantities(f"spec.limits[{i}].{f}", item.get(f), c)


def _validate_crd(obj: dict, c: Causes) -> None:
    """The checks of apiextensions' ValidateCustomResourceDefinition that clients trip over."""
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    for field, value in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                         ("spec.names.kind", names.get("kind"))):
        if not value:
            c.required(field)
    if spec.get("group") and names.get("plural"):
        name = (obj.get("metadata") or {}).get("name", "")
        if name != f"{names['plural']}.{spec['group']}":
            c.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        c.unsupported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"])
    versions = spec.get("versions") or []
    if not versions:
        c.invalid("spec.versions", versions, "must have exactly one version marked as storage version")
    elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        c.invalid("spec.versions", [v.get("name") for v in versions if isinstance(v, dict)],
                  "must have exactly one version marked as storage version")


def validate_create(rt: ResourceType, obj: dict) -> None:
    """Raise 422 Invalid if ``obj`` cannot be created."""
    c = Causes()
    _validate_metadata(rt, obj, c)
    _validate_kind(rt, obj, c)
    c.raise_if_any(rt, (obj.get("metadata") or {}).get("name") or "")


def validate_update(rt: ResourceType, obj: dict, old: dict) -> None:
    """Raise 422 Invalid if ``obj`` may not replace ``old`` (includes immutable fields)."""
    c = Causes()
    _validate_metadata(rt, obj, c)
    _validate_kind(rt, obj, c)
    if rt.group == "rbac.authorization.k8s.io" and rt.plural in ("rolebindings", "clusterrolebindings"):
        if obj.get("roleRef") != old.get("roleRef"):
            c.invalid("roleRef", obj.get("roleRef"), "cannot change roleRef")
    if rt.plural in ("configmaps", "secrets") and rt.group == "" and old.get("immutable"):
        for f in ("data", "binaryData"):
            if obj.get(f) != old.get(f):
                c.forbidden(f, "field is immutable when `immutable` is set")
    if (rt.group, rt.plural) == ("apps", "deployments"):
        if (obj.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            c.invalid("spec.selector", (obj.get("spec") or {}).get("selector"), "field is immutable")
    c.raise_if_any(rt, (obj.get("metadata") or {}).get("name") or "")


# ------------------------------------------------------------------ defaults
def _default_container(ctr: dict) -> None:
    image = ctr.get("image") or ""
    if "imagePullPolicy" not in ctr:
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        ctr["imagePullPolicy"] = "Always" if (not tagged or image.endswith(":latest")) else "IfNotPresent"
    ctr.setdefault("terminationMessagePath", "/dev/termination-log")
    ctr.setdefault("terminationMessagePolicy", "File")
    ctr.setdefault("resources", {})


def _default_pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for kind in ("initContainers", "containers"):
        for ctr in spec.get(kind) or []:
            if isinstance(ctr, dict):
                _default_container(ctr)


def apply_defaults(rt: ResourceType, obj: dict) -> None:
    """Fill the defaults the real API server sets on create, for the fields clients read back."""
    key = (rt.group, rt.plural)
    meta = obj.setdefault("metadata", {})
    if key == ("", "namespaces"):
        # The NamespaceDefaultLabelName feature: every namespace carries its name as a label.
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif key == ("", "pods"):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            _default_pod_spec(spec)
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("priority", 0)
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec if isinstance(spec, dict) else {})}
    elif key == ("apps", "deployments"):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
            tmpl_spec = (spec.get("template") or {}).get("spec")
            if isinstance(tmpl_spec, dict):
                _default_pod_spec(tmpl_spec)
        obj.setdefault("status", {})
    elif key == ("", "services"):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif key == ("", "persistentvolumeclaims"):
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        obj["status"] = {"phase": "Pending"}
    elif key == ("", "secrets"):
        obj.setdefault("type", "Opaque")
    elif key == ("certificates.k8s.io", "certificatesigningrequests"):
        obj["status"] = {}
    elif key == ("", "resourcequotas"):
        obj.pop("status", None)


def _qos_class(spec: dict) -> str:
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    if not containers:
        return "BestEffort"
    any_set = False
    guaranteed = True
    for ctr in containers:
        res = ctr.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
