"""List options: label and field selectors (400 with the real messages) and ``continue`` tokens."""

from __future__ import annotations

import base64
import json
import re

from .. import errors
from ..resources import ResourceType


def parse_label_selector(text: str):
    """Parse a label selector into a predicate on a labels dict; 400 BadRequest with the real parser's message."""
    from .. import labelselectors

    try:
        return labelselectors.parse(text)
    except labelselectors.SelectorError as exc:
        raise errors.bad_request(str(exc)) from None


_FIELD_GETTERS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
}
_EXTRA_FIELDS = {
    ("", "pods"): {
        "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
        "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
        "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
        "spec.restartPolicy": lambda o: (o.get("spec") or {}).get("restartPolicy", ""),
        "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
    },
    ("", "namespaces"): {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
    ("", "secrets"): {"type": lambda o: o.get("type", "")},
    ("", "events"): {
        f"involvedObject.{k}": (lambda k: lambda o: str((o.get("involvedObject") or {}).get(k, "")))(k)
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    } | {"reason": lambda o: o.get("reason", ""), "type": lambda o: o.get("type", ""),
         "source": lambda o: (o.get("source") or {}).get("component", "")},
    ("certificates.k8s.io", "certificatesigningrequests"): {"spec.signerName": lambda o: (o.get("spec") or {}).get("signerName", "")},
}


def parse_field_selector(rt: ResourceType, text: str):
    """Parse a field selector (``a=b,c!=d``) for ``rt``; 400 ``field label not supported`` for unknown fields."""
    getters = dict(_FIELD_GETTERS)
    getters.update(_EXTRA_FIELDS.get((rt.group, rt.plural), {}))
    reqs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", part)
        if not m:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in getters:
            raise errors.bad_request(f'field label not supported: {field}')
        reqs.append((getters[field], op != "!=", value))

    def match(obj: dict) -> bool:
        return all((getter(obj) == value) == eq for getter, eq, value in reqs)

    return match


def encode_continue(rv: str, start_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start_key + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> str:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1" or not isinstance(raw.get("start"), str):
            raise ValueError
        return raw["start"].rstrip("\x00")
    except (ValueError, TypeError, AttributeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


def selection(rt: ResourceType, label_selector: str, field_selector: str):
    """(predicate on an object, whether anything is filtered out) for a list, watch or deletecollection."""
    label = parse_label_selector(label_selector) if label_selector else None
    field = parse_field_selector(rt, field_selector) if field_selector else None

    def match(obj: dict) -> bool:
        if label is not None and not label((obj.get("metadata") or {}).get("labels") or {}):
            return False
        if field is not None and not field(obj):
            return False
        return True

    # Label terms a store index can use to avoid reading every object of the type.
    match.equality_terms = getattr(label, "equality_terms", []) if label is not None else []
    return match, label is not None or field is not None
