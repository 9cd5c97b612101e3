"""Authentication and impersonation, as kube-apiserver does them.

* Client certificates signed by the cluster CA: CN is the user name, O the groups
  (k8s.io/apiserver/pkg/authentication/request/x509).
* Bearer tokens: ServiceAccount JWTs issued by :mod:`kubesim.pki` (rejected once
  the ServiceAccount is gone or was re-created with another uid, like the real
  token authenticator's "legacy/bound token" validation), then static tokens
  (``--token-auth-file``).
* Every authenticated user gets ``system:authenticated``. Anonymous access is
  disabled, so no or bad credentials answer 401 ``Unauthorized``.
* Impersonation (``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*``) follows
  staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go: each
  requested identity part is authorized with verb ``impersonate``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from . import errors
from .rbac import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    service_account_groups,
    service_account_username,
    split_service_account_username,
)
from .types import Attributes, UserInfo

log = logging.getLogger(__name__)

ANONYMOUS = "system:anonymous"
IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_EXTRA_PREFIX = "Impersonate-Extra-"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def header_values(headers: Mapping[str, str] | None, name: str) -> list[str]:
    """All values of a header, case-insensitively, from a dict, an email.message.Message or a list-valued map."""
    if not headers:
        return []
    get_all = getattr(headers, "get_all", None)
    if callable(get_all):
        return [v for v in (get_all(name) or [])]
    lname = name.lower()
    out: list[str] = []
    for key, value in headers.items():
        if key.lower() != lname:
            continue
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        else:
            out.append(str(value))
    return out


def header_value(headers: Mapping[str, str] | None, name: str) -> str:
    """The first value of a header or ''."""
    values = header_values(headers, name)
    return values[0] if values else ""


def _header_names(headers) -> list[str]:
    keys = getattr(headers, "keys", None)
    return list(keys()) if callable(keys) else list(headers or ())


def with_authenticated(user: UserInfo) -> UserInfo:
    """The user with ``system:authenticated`` appended (AuthenticatedGroupAdder)."""
    if ALL_AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, tuple(user.groups) + (ALL_AUTHENTICATED,), user.uid, dict(user.extra))


def load_static_tokens(path: Path) -> dict[str, UserInfo]:
    """Read a kube-apiserver ``--token-auth-file``: ``token,user,uid,"group1,group2"`` per line."""
    tokens: dict[str, UserInfo] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{lineno}: token file needs at least token,user,uid")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0].strip()] = UserInfo(row[1].strip(), groups, row[2].strip())
    return tokens


class Authenticator:
    """Turns a request's credentials into a :class:`UserInfo`."""

    def __init__(self, ca, store, static_tokens: dict[str, UserInfo] | None = None):
        self.ca = ca
        self.store = store
        self.static_tokens = dict(static_tokens or {})

    # ----------------------------------------------------------------- authentication
    def authenticate(self, peer_cert_der: bytes | None, headers: Mapping[str, str]) -> UserInfo:
        """The user behind the request; raises 401 ``Unauthorized`` when there is none.

        Like the real union authenticator, the client certificate is tried first,
        then the bearer token; the first success wins.
        """
        if peer_cert_der:
            user = self.ca.identity_from_cert(peer_cert_der)
            if user is not None:
                extra = dict(user.extra)
                extra.setdefault(CREDENTIAL_ID, ["X509SHA256=" + hashlib.sha256(peer_cert_der).hexdigest()])
                return with_authenticated(UserInfo(user.name, tuple(user.groups), user.uid, extra))
        token = self._bearer_token(headers)
        if token:
            user = self.authenticate_token(token)
            if user is not None:
                return with_authenticated(user)
        raise errors.unauthorized()

    @staticmethod
    def _bearer_token(headers: Mapping[str, str]) -> str:
        auth = header_value(headers, "Authorization").strip()
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return ""
        return token.strip()

    def authenticate_token(self, token: str) -> UserInfo | None:
        """A ServiceAccount JWT or a static token; None if neither accepts it (also used by TokenReview)."""
        claims = self.ca.verify_token(token) if token.count(".") == 2 else None
        if claims is not None:
            return self._service_account_user(claims)
        user = self.static_tokens.get(token)
        if user is not None:
            return UserInfo(user.name, tuple(user.groups), user.uid, dict(user.extra))
        return None

    def _service_account_user(self, claims: dict) -> UserInfo | None:
        info = claims.get("kubernetes.io") or {}
        namespace = info.get("namespace") or ""
        sa = info.get("serviceaccount") or {}
        name, uid = sa.get("name") or "", sa.get("uid") or ""
        if not namespace or not name:
            return None
        from . import resources

        stored = self.store.get(resources.lookup("", "v1", "serviceaccounts"), namespace, name)
        if stored is None:
            # The real validator: "serviceaccounts \"x\" not found" is logged, the client sees 401.
            log.info("token rejected: ServiceAccount %s/%s not found", namespace, name)
            return None
        if uid and stored["metadata"].get("uid") != uid:
            log.info("token rejected: ServiceAccount %s/%s uid %s is not %s", namespace, name,
                     stored["metadata"].get("uid"), uid)
            return None
        extra: dict[str, list[str]] = {}
        if claims.get("jti"):
            extra[CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
        pod = info.get("pod")
        if isinstance(pod, dict):
            extra["authentication.kubernetes.io/pod-name"] = [pod.get("name", "")]
            extra["authentication.kubernetes.io/pod-uid"] = [pod.get("uid", "")]
        return UserInfo(service_account_username(namespace, name), service_account_groups(namespace),
                        stored["metadata"].get("uid", uid), extra)

    # ----------------------------------------------------------------- impersonation
    def impersonate(self, user: UserInfo, headers: Mapping[str, str], authorizer) -> UserInfo:
        """The impersonated user if impersonation headers are present, else ``user`` unchanged.

        Each part is authorized separately (users / serviceaccounts / groups / uids /
        userextras with verb ``impersonate``); the first denial answers 403 with
        the message kube-apiserver gives.
        """
        requested_user = header_value(headers, IMPERSONATE_USER)
        requested_groups = header_values(headers, IMPERSONATE_GROUP)
        requested_uid = header_value(headers, IMPERSONATE_UID)
        extras: list[tuple[str, str]] = []
        for header in _header_names(headers):
            if header.lower().startswith(IMPERSONATE_EXTRA_PREFIX.lower()):
                key = unquote(header[len(IMPERSONATE_EXTRA_PREFIX):].lower())
                for value in header_values(headers, header):
                    extras.append((key, value))
        if not requested_user and not requested_groups and not requested_uid and not extras:
            return user

        # (kind, namespace, name, apiVersion, fieldPath): the ObjectReferences of buildImpersonationRequests
        requests: list[tuple[str, str, str, str, str]] = []
        if requested_user:
            sa = split_service_account_username(requested_user)
            if sa:
                requests.append(("ServiceAccount", sa[0], sa[1], "", ""))
            else:
                requests.append(("User", "", requested_user, "", ""))
        for group in requested_groups:
            requests.append(("Group", "", group, "", ""))
        for key, value in extras:
            requests.append(("UserExtra", "", value, "authentication.k8s.io/v1", key))
        if requested_uid:
            requests.append(("UID", "", requested_uid, "authentication.k8s.io/v1", ""))
        if not requested_user:
            refs = " ".join("{" + " ".join([k, ns, n, "", av, "", fp]) + "}" for k, ns, n, av, fp in requests)
            raise errors.bad_request(f"requested [{refs}] without impersonating a user")

        groups_specified = bool(requested_groups)
        username, groups, uid = "", [], ""
        extra: dict[str, list[str]] = {}
        for kind, namespace, name, api_version, field_path in requests:
            api_group = api_version.split("/")[0] if "/" in api_version else ""
            attrs = dict(user=user, verb="impersonate", api_group=api_group,
                         api_version=api_version.split("/")[-1] if api_version else "v1",
                         namespace=namespace, name=name, resource_request=True)
            if kind == "ServiceAccount":
                attrs["resource"] = "serviceaccounts"
                username = service_account_username(namespace, name)
                if not groups_specified:
                    groups = list(service_account_groups(namespace))
            elif kind == "User":
                attrs["resource"] = "users"
                username = name
            elif kind == "Group":
                attrs["resource"] = "groups"
                groups.append(name)
            elif kind == "UserExtra":
                attrs["resource"] = "userextras"
                attrs["subresource"] = field_path
                extra.setdefault(field_path, []).append(name)
            else:  # UID
                attrs["resource"] = "uids"
                uid = name
            acting_as = Attributes(**attrs)
            allowed, reason = authorizer.authorize(acting_as)
            if not allowed:
                raise authorizer.forbidden(acting_as, reason)

        if username != ANONYMOUS:
            if ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
                groups.append(ALL_AUTHENTICATED)
        elif ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_UNAUTHENTICATED)
        return UserInfo(username, tuple(groups), uid, extra)
