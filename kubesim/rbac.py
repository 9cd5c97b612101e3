"""RBAC: the default policy, the authorizer and the escalation rules.

Mirrors kube-apiserver's RBAC authorizer
(``plugin/pkg/auth/authorizer/rbac/rbac.go``), its rule resolver
(``pkg/registry/rbac/validation/rule.go``) and the policy comparator used by the
escalation check (``staging/src/k8s.io/component-helpers/auth/rbac/validation/policy_comparator.go``).

Everything reads the live Roles, ClusterRoles and bindings from the store on
each decision. There is no cache: a binding created by one request governs the
very next one, which is what tests of "grant then try" expect, and the store
is in memory so a handful of dict copies per request is cheap.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from . import errors
from .types import Attributes, UserInfo

RBAC_GROUP = "rbac.authorization.k8s.io"
SYSTEM_MASTERS = "system:masters"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"

_BOOTSTRAP_FILE = Path(__file__).with_name("rbac_bootstrap.yaml")

# Escalation check for aggregated ClusterRoles: only someone holding every
# permission may create one (pkg/registry/rbac/clusterrole/policybased/storage.go).
FULL_AUTHORITY = [
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
]


# --------------------------------------------------------------------------- types
def _rt(plural: str):
    # Imported lazily: resources.py belongs to another module owner and importing
    # it at module import time would make rbac.py unusable in isolation.
    from . import resources

    return resources.lookup(RBAC_GROUP, "v1", plural)


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>`` (k8s.io/apiserver serviceaccount.MakeUsername)."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account_username(username: str) -> tuple[str, str] | None:
    """(namespace, name) for a ServiceAccount user name, else None (serviceaccount.SplitUsername)."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups every ServiceAccount of ``namespace`` belongs to (serviceaccount.MakeGroupNames)."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


# --------------------------------------------------------------------------- label selectors
def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """Evaluate a metav1.LabelSelector (matchLabels + matchExpressions) against labels.

    An empty selector matches everything, as LabelSelectorAsSelector does.
    """
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return False
    return True


# --------------------------------------------------------------------------- aggregation
def _normalize_rule(rule: dict) -> tuple:
    return tuple(tuple(rule.get(k) or ()) for k in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"))


def aggregated_rules(role: dict, cluster_roles: Iterable[dict]) -> list[dict]:
    """The rules the clusterrole-aggregation controller gives an aggregated ClusterRole.

    Same algorithm as pkg/controller/clusterroleaggregation: for each selector, the
    matching ClusterRoles sorted by name (the role itself excluded), their rules
    appended in order without duplicates.
    """
    name = role["metadata"]["name"]
    roles = sorted(cluster_roles, key=lambda r: r["metadata"]["name"])
    rules: list[dict] = []
    seen: set[tuple] = set()  # normalized rules already taken: O(1) duplicate test instead of a rescan
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        for other in roles:
            if other["metadata"]["name"] == name:
                continue
            if not selector_matches(selector, other["metadata"].get("labels")):
                continue
            for rule in other.get("rules") or []:
                key = _normalize_rule(rule)
                if key not in seen:
                    seen.add(key)
                    rules.append(copy.deepcopy(rule))
    return rules


def aggregation_affected(cluster_roles: Iterable[dict], *changed: dict | None) -> bool:
    """Whether a write of ClusterRole(s) ``changed`` (new and old versions) can change any aggregated role.

    True when a changed version carries an aggregationRule itself, or when its
    labels match a selector of some aggregated role. Every other ClusterRole
    write (the common case: a portal creating a plain role) leaves all
    aggregated rules as they are, so the controller can skip recomputing them.
    """
    versions = [c for c in changed if c]
    if any(c.get("aggregationRule") for c in versions):
        return True
    selectors = [sel for r in cluster_roles
                 for sel in ((r.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])]
    return any(selector_matches(sel, (c.get("metadata") or {}).get("labels")) for sel in selectors for c in versions)


def aggregate_all(cluster_roles: list[dict]) -> list[str]:
    """Fill in ``rules`` of every aggregated ClusterRole in place, to a fixpoint.

    Aggregation chains (view -> edit -> admin) converge after a few rounds; the
    round limit guards against a selector cycle. Returns the names that changed.
    """
    changed: set[str] = set()
    by_name = {r["metadata"]["name"]: r for r in cluster_roles}
    for _ in range(len(cluster_roles) + 1):
        progress = False
        for role in cluster_roles:
            if not role.get("aggregationRule"):
                continue
            rules = aggregated_rules(role, by_name.values())
            if (role.get("rules") or []) != rules:
                role["rules"] = rules
                changed.add(role["metadata"]["name"])
                progress = True
        if not progress:
            break
    return sorted(changed)


# --------------------------------------------------------------------------- bootstrap
@functools.lru_cache(maxsize=1)
def _bootstrap_data() -> dict:
    with open(_BOOTSTRAP_FILE, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: ~10x faster


def bootstrap_objects() -> list[dict]:
    """The default ClusterRoles and ClusterRoleBindings of a fresh cluster (a fresh copy per call).

    Aggregated roles (admin, edit, view) come with their rules already filled in,
    as a real cluster shows them a moment after start-up.
    """
    return copy.deepcopy(_bootstrap_objects())


@functools.lru_cache(maxsize=1)
def _bootstrap_objects() -> list[dict]:
    # Built and aggregated once per process: every fresh state dir (one per test) seeds from it.
    data = copy.deepcopy(_bootstrap_data())
    roles = []
    for item in data["clusterRoles"]:
        role = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole"}
        meta = item["metadata"]
        meta.setdefault("annotations", {})[AUTOUPDATE_ANNOTATION] = "true"
        role["metadata"] = meta
        if item.get("aggregationRule"):
            role["aggregationRule"] = item["aggregationRule"]
        role["rules"] = item.get("rules") or []
        roles.append(role)
    aggregate_all(roles)
    bindings = []
    for item in data["clusterRoleBindings"]:
        meta = item["metadata"]
        meta.setdefault("annotations", {})[AUTOUPDATE_ANNOTATION] = "true"
        meta.setdefault("labels", {})["kubernetes.io/bootstrapping"] = "rbac-defaults"
        bindings.append({
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": item["roleRef"],
            "subjects": item["subjects"],
        })
    return roles + bindings


# --------------------------------------------------------------------------- rule matching
def _verb_matches(rule: dict, verb: str) -> bool:
    verbs = rule.get("verbs") or []
    return "*" in verbs or verb in verbs


def _group_matches(rule: dict, group: str) -> bool:
    groups = rule.get("apiGroups") or []
    return "*" in groups or group in groups


def _resource_matches(rule: dict, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for rule_resource in rule.get("resources") or []:
        if rule_resource == "*" or rule_resource == combined:
            return True
        # "*/status" grants the status subresource of every resource.
        if subresource and rule_resource == f"*/{subresource}":
            return True
    return False


def _name_matches(rule: dict, name: str) -> bool:
    names = rule.get("resourceNames") or []
    return not names or name in names


def _non_resource_url_matches(rule: dict, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict) -> bool:
    """Whether one PolicyRule allows the request (rbac.RuleAllows)."""
    if attrs.resource_request:
        # A combined resource like "pods/log" must be named exactly; and a rule
        # listing resourceNames never matches a request without a name (e.g. list).
        return (
            _verb_matches(rule, attrs.verb)
            and _group_matches(rule, attrs.api_group)
            and _resource_matches(rule, attrs.resource, attrs.subresource)
            and _name_matches(rule, attrs.name)
        )
    return _verb_matches(rule, attrs.verb) and _non_resource_url_matches(rule, attrs.path)


def subject_applies(user: UserInfo, subject: dict, namespace: str) -> bool:
    """appliesToUser: does a binding subject name this user?"""
    kind = subject.get("kind")
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        # A subject without namespace refers to the binding's namespace.
        sa_namespace = subject.get("namespace") or namespace
        if not sa_namespace:
            return False
        return user.name == service_account_username(sa_namespace, subject.get("name", ""))
    return False


def _describe_subject(subject: dict, binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return f'{subject["kind"]} "{subject.get("name", "")}/{ns}"'
    return f'{subject.get("kind")} "{subject.get("name", "")}"'


class RuleResolutionError(Exception):
    """A binding that refers to a missing role: reported like the real resolver does."""


class Authorizer:
    """The RBAC authorizer over the live store."""

    def __init__(self, store):
        self.store = store

    # ----------------------------------------------------------------- resolution
    def role_reference_rules(self, role_ref: dict, binding_namespace: str) -> list[dict]:
        """The rules a roleRef points at (GetRoleReferenceRules); raises RuleResolutionError."""
        kind, name = role_ref.get("kind"), role_ref.get("name", "")
        if kind == "Role":
            role = self.store.get(_rt("roles"), binding_namespace, name)
            if role is None:
                # Listers report the singular resource: role.rbac.authorization.k8s.io "x" not found
                raise RuleResolutionError(f'role.{RBAC_GROUP} "{name}" not found')
            return role.get("rules") or []
        if kind == "ClusterRole":
            role = self.store.get(_rt("clusterroles"), None, name)
            if role is None:
                raise RuleResolutionError(f'clusterrole.{RBAC_GROUP} "{name}" not found')
            return role.get("rules") or []
        raise RuleResolutionError(f'unsupported role reference kind: "{kind}"')

    def visit_rules_for(self, user: UserInfo, namespace: str) -> Iterator[tuple[str | None, dict | None, str | None]]:
        """Yield (source description, rule, error) for every rule that applies to ``user`` in ``namespace``.

        ClusterRoleBindings first, then RoleBindings of ``namespace`` (VisitRulesFor).
        """
        crbs, _ = self.store.list(_rt("clusterrolebindings"))
        for binding in crbs:
            subject = next((s for s in binding.get("subjects") or [] if subject_applies(user, s, "")), None)
            if subject is None:
                continue
            try:
                rules = self.role_reference_rules(binding.get("roleRef") or {}, "")
            except RuleResolutionError as exc:
                yield None, None, str(exc)
                continue
            ref = binding.get("roleRef") or {}
            source = (f'ClusterRoleBinding "{binding["metadata"]["name"]}" of {ref.get("kind")} '
                      f'"{ref.get("name")}" to {_describe_subject(subject, "")}')
            for rule in rules:
                yield source, rule, None
        if not namespace:
            return
        rbs, _ = self.store.list(_rt("rolebindings"), namespace)
        for binding in rbs:
            subject = next((s for s in binding.get("subjects") or [] if subject_applies(user, s, namespace)), None)
            if subject is None:
                continue
            try:
                rules = self.role_reference_rules(binding.get("roleRef") or {}, namespace)
            except RuleResolutionError as exc:
                yield None, None, str(exc)
                continue
            ref = binding.get("roleRef") or {}
            source = (f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of {ref.get("kind")} '
                      f'"{ref.get("name")}" to {_describe_subject(subject, namespace)}')
            for rule in rules:
                yield source, rule, None

    def rules_for(self, user: UserInfo, namespace: str) -> list[dict]:
        """Every PolicyRule that applies to ``user`` in ``namespace`` (cluster-wide ones included)."""
        return [copy.deepcopy(rule) for _, rule, _ in self.visit_rules_for(user, namespace) if rule is not None]

    def rules_and_errors_for(self, user: UserInfo, namespace: str) -> tuple[list[dict], list[str]]:
        """Like :meth:`rules_for` plus the resolution errors (missing roles), as RulesFor returns them."""
        rules, errs = [], []
        for _, rule, err in self.visit_rules_for(user, namespace):
            if rule is not None:
                rules.append(copy.deepcopy(rule))
            if err:
                errs.append(err)
        return rules, errs

    # ----------------------------------------------------------------- decisions
    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason). system:masters is always allowed, as in kube-apiserver.

        The reason for an allow names the granting binding; a deny carries the rule
        resolution errors ("RBAC: clusterrole... not found") or is empty, exactly
        what the real authorizer puts after the 403 message.
        """
        if SYSTEM_MASTERS in attrs.user.groups:
            return True, ""
        namespace = attrs.namespace if attrs.resource_request else ""
        errs: list[str] = []
        for source, rule, err in self.visit_rules_for(attrs.user, namespace):
            if err:
                errs.append(err)
                continue
            if rule_allows(attrs, rule):
                return True, f"RBAC: allowed by {source}"
        if errs:
            return False, "RBAC: " + _aggregate(errs)
        return False, ""

    def allowed(self, attrs: Attributes) -> bool:
        """Just the decision."""
        return self.authorize(attrs)[0]

    def forbidden(self, attrs: Attributes, reason: str | None = None) -> errors.StatusError:
        """The 403 Status kube-apiserver answers for a denied request (responsewriters.Forbidden)."""
        if reason is None:
            _, reason = self.authorize(attrs)
        msg = forbidden_message(attrs)
        if reason:
            msg = f"{msg}: {reason}"
        if not attrs.resource_request:
            # NewForbidden with an empty GroupResource: "forbidden: <msg>"
            return errors.StatusError(403, "Forbidden", f"forbidden: {msg}", {})
        return errors.forbidden(attrs.api_group, attrs.resource, attrs.name, msg)


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate formatting: one error as is, several as ``[a, b]``."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage: 'User "x" cannot list resource "pods" in API group "" ...'."""
    username = attrs.user.name if attrs.user else ""
    if not attrs.resource_request:
        return f'User "{username}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource
    if attrs.subresource:
        resource = f"{resource}/{attrs.subresource}"
    if attrs.namespace:
        return (f'User "{username}" cannot {attrs.verb} resource "{resource}" in API group '
                f'"{attrs.api_group}" in the namespace "{attrs.namespace}"')
    return f'User "{username}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" at the cluster scope'


# --------------------------------------------------------------------------- escalation
def breakdown_rule(rule: dict) -> list[dict]:
    """One rule per (group, resource, verb[, resourceName]) and per (URL, verb) (BreakdownRule)."""
    out = []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                names = rule.get("resourceNames") or []
                if names:
                    for name in names:
                        out.append({"apiGroups": [group], "resources": [resource], "verbs": [verb], "resourceNames": [name]})
                else:
                    out.append({"apiGroups": [group], "resources": [resource], "verbs": [verb]})
    for url in rule.get("nonResourceURLs") or []:
        for verb in rule.get("verbs") or []:
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


def _has_all(owned: list[str], wanted: list[str]) -> bool:
    owned_set = set(owned)
    return all(w in owned_set for w in wanted)


def _resource_covers_all(owned: list[str], wanted: list[str]) -> bool:
    if "*" in owned or _has_all(owned, wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path:
            return False
        if f"*/{path.split('/', 1)[1]}" not in owned:
            return False
    return True


def _url_covers(owner: str, sub: str) -> bool:
    return owner == sub or (owner.endswith("*") and sub.startswith(owner.rstrip("*")))


def rule_covers(owner: dict, sub: dict) -> bool:
    """ruleCovers: does one owner rule cover one broken-down rule?"""
    verbs = owner.get("verbs") or []
    groups = owner.get("apiGroups") or []
    sub_names = sub.get("resourceNames") or []
    owner_names = owner.get("resourceNames") or []
    if sub_names:
        names_ok = not owner_names or _has_all(owner_names, sub_names)
    else:
        names_ok = not owner_names
    urls_ok = all(any(_url_covers(o, p) for o in owner.get("nonResourceURLs") or []) for p in sub.get("nonResourceURLs") or [])
    return (
        ("*" in verbs or _has_all(verbs, sub.get("verbs") or []))
        and ("*" in groups or _has_all(groups, sub.get("apiGroups") or []))
        and _resource_covers_all(owner.get("resources") or [], sub.get("resources") or [])
        and names_ok
        and urls_ok
    )


def covers(owner_rules: list[dict], servant_rules: list[dict]) -> tuple[bool, list[dict]]:
    """validation.Covers: whether owner_rules grant everything servant_rules do, and what is missing."""
    missing = []
    for servant in servant_rules:
        for sub in breakdown_rule(servant):
            if not any(rule_covers(owner, sub) for owner in owner_rules):
                missing.append(sub)
    return not missing, missing


def compact_rules(rules: list[dict]) -> list[dict]:
    """CompactRules: merge simple one-group/one-resource(/one-name) rules that differ only by verb."""
    compacted: list[dict] = []
    simple: dict[tuple, dict] = {}
    for rule in rules:
        names = rule.get("resourceNames") or []
        is_simple = (
            len(names) <= 1
            and not rule.get("nonResourceURLs")
            and len(rule.get("apiGroups") or []) == 1
            and len(rule.get("resources") or []) == 1
        )
        if not is_simple:
            compacted.append(rule)
            continue
        key = (rule["apiGroups"][0], rule["resources"][0], bool(names), names[0] if names else "")
        if key in simple:
            simple[key]["verbs"] = list(simple[key].get("verbs") or []) + list(rule.get("verbs") or [])
        else:
            simple[key] = copy.deepcopy(rule)
    return compacted + list(simple.values())


def _go_quote_list(values: list[str]) -> str:
    # Go's %q of a []string: ["a" "b"]
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def compact_string(rule: dict) -> str:
    """rbacv1helpers.CompactString: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        values = rule.get(key) or []
        if values:
            parts.append(f"{label}:{_go_quote_list(values)}")
    return "{" + ", ".join(parts) + "}"


def confirm_no_escalation(authorizer: Authorizer, user: UserInfo, namespace: str, rules: list[dict]) -> str | None:
    """ConfirmNoEscalation: None if ``user`` holds every permission in ``rules``, else the real message."""
    owner_rules, resolution_errors = authorizer.rules_and_errors_for(user, namespace)
    ok, missing = covers(owner_rules, rules)
    if ok:
        return None
    descriptions = sorted({compact_string(r) for r in compact_rules(missing)})
    msg = (f'user "{user.name}" (groups={_go_quote_list(list(user.groups))}) is attempting to grant RBAC permissions '
           "not currently held:\n" + "\n".join(descriptions))
    if resolution_errors:
        msg += f"; resolution errors: [{_aggregate(resolution_errors)}]"
    return msg


def escalation_allowed(user: UserInfo) -> bool:
    """system:masters may always escalate (rbac.EscalationAllowed)."""
    return SYSTEM_MASTERS in user.groups
