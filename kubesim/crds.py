"""CustomResourceDefinitions and Gatekeeper's ConstraintTemplates, as a cluster with them installed behaves.

* apiextensions-apiserver: a CRD's served versions become resource types
  (discovery, OpenAPI v3 with the CRD's ``openAPIV3Schema``, CRUD, list/watch,
  the status subresource when ``subresources.status`` is set); the CRD gets
  ``NamesAccepted`` and ``Established`` conditions and ``acceptedNames``, which
  ``kubectl wait --for condition=established`` waits on. Deleting a CRD stops
  serving it and deletes its objects.
* Gatekeeper's template controller: each ConstraintTemplate gets the CRD of
  its constraint kind, ``<kind lowercased>.constraints.gatekeeper.sh``
  (cluster-scoped, ``v1beta1`` and ``v1``, status subresource, the template's
  ``spec.crd.spec.validation.openAPIV3Schema`` under ``spec.parameters``);
  deleting the template deletes that CRD. Rego is not evaluated: constraints
  never deny or warn at admission here; tests write their audit ``status``.

The resource type registry is process-wide (:mod:`kubesim.resources`), so
kinds a CRD registers are seen by every kubesim in the process until the CRD
is deleted or the kubesim that served it stops (``CustomResources.forget``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from . import errors, resources
from .resources import ALL_VERBS, ResourceType

log = logging.getLogger(__name__)

CRDS = resources.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
TEMPLATES = resources.lookup("templates.gatekeeper.sh", "v1", "constrainttemplates")
CONSTRAINTS_GROUP = resources.CONSTRAINTS_GROUP


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def served_types(crd: dict) -> list[ResourceType]:
    """The resource types a CRD serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = ("status",) if "status" in (version.get("subresources") or {}) else ()
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        types.append(ResourceType(
            spec.get("group", ""), version.get("name", ""), names.get("plural", ""), names.get("kind", ""),
            spec.get("scope", "Namespaced") == "Namespaced", names.get("singular") or names.get("kind", "").lower(),
            tuple(names.get("shortNames") or ()), ALL_VERBS, subresources, True, tuple(names.get("categories") or ()),
            custom=True, schema=schema))
    return types


def constraint_crd(template: dict) -> dict | None:
    """The CRD Gatekeeper creates for a ConstraintTemplate's constraint kind (None without a kind)."""
    crd_spec = ((template.get("spec") or {}).get("crd") or {}).get("spec") or {}
    kind = (crd_spec.get("names") or {}).get("kind", "")
    if not kind:
        return None
    plural = kind.lower()
    parameters = ((crd_spec.get("validation") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "enforcementAction": {"type": "string"},
            "match": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "parameters": parameters,
        }},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }}
    versions = [{"name": v, "served": True, "storage": v == "v1beta1", "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": schema}} for v in ("v1beta1", "v1")]
    owner = template.get("metadata") or {}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{CONSTRAINTS_GROUP}", "labels": {"gatekeeper.sh/constraint": "yes"},
                         "ownerReferences": [{"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
                                              "name": owner.get("name", ""), "uid": owner.get("uid", "")}]},
            "spec": {"group": CONSTRAINTS_GROUP, "scope": "Cluster", "versions": versions,
                     "names": {"kind": kind, "plural": plural, "singular": plural, "listKind": f"{kind}List",
                               "categories": ["constraint", "constraints"]}}}


class CustomResources:
    """The CRD and ConstraintTemplate controllers of one kubesim (driven by :class:`kubesim.controllers.Controllers`)."""

    def __init__(self, store):
        self.store = store
        self.registered: dict[str, list[ResourceType]] = {}  # CRD name -> the types it serves

    def on_change(self, rt: ResourceType, event_type: str, obj: dict, old: dict | None) -> bool:
        """Handle a CRD or template write; True when this event was one of theirs."""
        if rt == CRDS:
            if event_type == "DELETED":
                self._unserve(obj["metadata"]["name"], delete_objects=True)
            else:
                self._serve(obj)
            return True
        if rt == TEMPLATES:
            self._sync_template(obj, deleted=event_type == "DELETED")
            return True
        return False

    def _serve(self, crd: dict) -> None:
        name = crd["metadata"]["name"]
        types = served_types(crd)
        for old in self.registered.get(name, []):
            if (old.group, old.version, old.plural) not in {(t.group, t.version, t.plural) for t in types}:
                resources.unregister(old.group, old.version, old.plural)
        for rt in types:
            resources.register(rt)
        self.registered[name] = types
        names = (crd.get("spec") or {}).get("names") or {}
        accepted = {"plural": names.get("plural"), "singular": names.get("singular") or str(names.get("kind", "")).lower(),
                    "kind": names.get("kind"), "listKind": names.get("listKind") or f"{names.get('kind')}List",
                    **({"shortNames": names["shortNames"]} if names.get("shortNames") else {}),
                    **({"categories": names["categories"]} if names.get("categories") else {})}
        status = crd.get("status") or {}
        if status.get("acceptedNames") == accepted and any(c.get("type") == "Established" for c in status.get("conditions") or []):
            return  # already established as it is: no write, no event loop
        now = _now()
        new_status = {
            "acceptedNames": accepted,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
                 "lastTransitionTime": now},
            ],
            "storedVersions": [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")],
        }
        fresh = self.store.get(CRDS, None, name)
        if fresh is None:
            return
        try:
            self.store.update(CRDS, {**fresh, "status": new_status}, subresource="status")
        except errors.StatusError as exc:  # a concurrent write: the next event settles it
            log.debug("crd status of %s not written: %s", name, exc.message)

    def _unserve(self, name: str, *, delete_objects: bool) -> None:
        for rt in self.registered.pop(name, []):
            if delete_objects:
                items, _ = self.store.list(rt)
                for item in items:
                    meta = item.get("metadata") or {}
                    try:
                        self.store.delete(rt, meta.get("namespace") if rt.namespaced else None, meta.get("name", ""))
                    except errors.StatusError:
                        pass
            resources.unregister(rt.group, rt.version, rt.plural)

    def _sync_template(self, template: dict, *, deleted: bool) -> None:
        wanted = constraint_crd(template)
        if wanted is None:
            return
        name = wanted["metadata"]["name"]
        live = self.store.get(CRDS, None, name)
        if deleted:
            if live is not None:
                self.store.delete(CRDS, None, name)
            return
        if live is None:
            self.store.create(CRDS, wanted)
        elif live.get("spec") != wanted["spec"]:
            self.store.update(CRDS, {**live, "spec": wanted["spec"]})

    def resync(self) -> None:
        crds, _ = self.store.list(CRDS)
        for crd in crds:
            self._serve(crd)

    def forget(self) -> None:
        """Stop serving this kubesim's custom types (the kubesim is stopping); its stored objects stay on disk."""
        for name in list(self.registered):
            self._unserve(name, delete_objects=False)
