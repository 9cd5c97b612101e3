"""The one gateway to Kubernetes: the only module that imports ``kubernetes``.

Every call goes through an ``ApiClient`` built for one cluster from its stored
credentials (never the process-global ``load_kube_config``), with TLS verified
against the cluster's CA bundle and a timeout on every request. Failures are
raised as :class:`apps.core.errors.ClusterError` carrying the cluster's own
message and whether trying again later can help.

Verbs:

* ``apply(cluster, objects, ownership=...)`` — a namespace's bundle: the
  Namespace is created when missing or checked to be the portal's own
  (``Ownership``), then every object is server-side applied, one PATCH each,
  under the portal's field manager with ``force=true``;
* ``get_object`` / ``list_objects`` / ``delete_object`` for the few reads and
  prunes the reconciler needs, ``delete_namespace`` (only an owned one);
* ``get_version``, ``whoami``, ``read_quota``;

Ownership is enforced here, in the one gateway, not by each caller: the
portal writes into, and deletes, only namespaces carrying its mark (a label
plus an annotation naming its own row, and the ``metadata.uid`` it recorded),
and never adopts one as a side effect of applying.
* CSR verbs for kubeconfigs: ``create_csr``, ``approve_csr``,
  ``wait_for_certificate`` (a WATCH with a deadline), ``delete_csr``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import urllib3
from django.conf import settings
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from apps.core.errors import ClusterError

log = logging.getLogger(__name__)

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
CSR_USAGES = ["client auth", "digital signature"]
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


# --- Resource paths ---------------------------------------------------------------
# A static table instead of the dynamic client: the dynamic client runs API
# discovery (several extra GETs) on first use, and the portal only ever
# touches these kinds.


@dataclass(frozen=True)
class ResourceType:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def collection_path(self, namespace: str | None = None) -> str:
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced; a namespace is required")
            return f"{self.base()}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{self.base()}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"


RESOURCE_TYPES = {
    (rt.api_version, rt.kind): rt
    for rt in (
        ResourceType("v1", "Namespace", "namespaces", False),
        ResourceType("v1", "ResourceQuota", "resourcequotas", True),
        ResourceType("v1", "LimitRange", "limitranges", True),
        ResourceType("v1", "ServiceAccount", "serviceaccounts", True),
        ResourceType("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
        ResourceType("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
        ResourceType("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", False),
    )
}


def resource_type(api_version: str, kind: str) -> ResourceType:
    """The path information for a kind the portal manages; ValueError for others."""
    try:
        return RESOURCE_TYPES[(api_version, kind)]
    except KeyError:
        raise ValueError(f"the portal does not manage {api_version} {kind}") from None


# --- Clients ------------------------------------------------------------------------


def _ssl_context(cluster_ca: str, credentials: dict) -> ssl.SSLContext:
    """TLS context trusting only the cluster's CA, with the client certificate loaded.

    Python's ``ssl`` can only load a certificate chain from files, so the
    cert and key are written to a private temporary directory (0700, files
    0600), loaded, and removed at once: they never outlive this function.
    The CA bundle is loaded from memory.
    """
    if cluster_ca.strip():
        # Trust the cluster's CA and nothing else (no system roots).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=cluster_ca)
    else:
        # No CA bundle stored: the API server has a publicly trusted certificate.
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if credentials.get("client_certificate"):
        with tempfile.TemporaryDirectory(prefix="portal-kube-") as tmp:
            cert_path = os.path.join(tmp, "client.crt")
            key_path = os.path.join(tmp, "client.key")
            for path, data in ((cert_path, credentials["client_certificate"]), (key_path, credentials.get("client_key", ""))):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(data)
            context.load_cert_chain(cert_path, key_path)
    return context


def build_api_client(cluster) -> k8s_client.ApiClient:
    """A fresh ApiClient for ``cluster`` from its stored (encrypted) credentials."""
    credentials = cluster.get_credentials()
    configuration = k8s_client.Configuration()
    configuration.host = cluster.api_server_url.rstrip("/")
    configuration.verify_ssl = True
    # No urllib3-level retries: the reconciler retries with backoff itself,
    # and a silent retry here would hide how often a cluster fails.
    configuration.retries = False
    if credentials.get("token"):
        configuration.api_key = {"BearerToken": credentials["token"]}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api_client = k8s_client.ApiClient(configuration)
    api_client.user_agent = "platform-portal/1.0"
    # Replace the pool manager so the CA and client certificate come from
    # memory (see _ssl_context) instead of files that must stay on disk.
    api_client.rest_client.pool_manager = urllib3.PoolManager(
        num_pools=4, maxsize=8, ssl_context=_ssl_context(cluster.ca_bundle or "", credentials), retries=False,
    )
    return api_client


_clients: dict[int, tuple[Any, k8s_client.ApiClient]] = {}
_clients_lock = threading.Lock()


def api_client_for(cluster) -> k8s_client.ApiClient:
    """The cached ApiClient of ``cluster``; rebuilt when the cluster row changed.

    Keyed by (id, updated_at): re-registering a cluster with new credentials
    bumps ``updated_at``, so the next call builds a new client.
    """
    version = cluster.updated_at
    with _clients_lock:
        cached = _clients.get(cluster.pk)
        if cached is not None and cached[0] == version and cluster.pk is not None:
            return cached[1]
    api_client = build_api_client(cluster)
    with _clients_lock:
        old = _clients.get(cluster.pk)
        if cluster.pk is not None:
            _clients[cluster.pk] = (version, api_client)
    if old is not None and old[1] is not api_client:
        old[1].rest_client.pool_manager.clear()
    return api_client


def forget_clients() -> None:
    """Drop every cached client (tests; credential rotation)."""
    with _clients_lock:
        items = list(_clients.values())
        _clients.clear()
    for _, api_client in items:
        api_client.rest_client.pool_manager.clear()


# --- Requests and errors ---------------------------------------------------------------


def _timeout(read: float | None = None):
    seconds = settings.KUBE_REQUEST_TIMEOUT_SECONDS
    return (seconds, read if read is not None else seconds)


def _status_message(status: int, body: bytes | str | None, reason: str = "") -> str:
    """The cluster's own message from a Status body, falling back to the HTTP reason."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return body.strip()[:500] or reason
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return reason or f"HTTP {status}"


# Server-side apply answers a patch that does not fit the schema (an unknown
# or mistyped field) with a bare 500, not a 400 (kubernetes/kubernetes#122480,
# still open): the same patch fails the same way forever.
_PERMANENT_500 = ("failed to create typed patch object",)


def is_retryable_status(status: int, message: str = "") -> bool:
    """Whether trying again later can help: server trouble, throttling, conflicts.

    4xx answers (forbidden, invalid, not found) are the cluster refusing the
    request as asked; repeating it changes nothing. Neither does a 500 that
    server-side apply uses for schema errors.
    """
    if status == 500 and any(marker in message for marker in _PERMANENT_500):
        return False
    return status >= 500 or status in (408, 409, 429)


def _cluster_error(cluster, action: str, *, status: int | None, message: str, retryable: bool) -> ClusterError:
    return ClusterError(f"{cluster.name}: {action}: {message}", status=status, retryable=retryable)


def _request(cluster, method: str, path: str, *, action: str, query: list | None = None, body: Any = None,
             content_type: str = "application/json", read_timeout: float | None = None, stream: bool = False,
             warnings: list[str] | None = None):
    """One HTTP call; returns the parsed JSON (or the raw response when ``stream``).

    With a ``warnings`` list, the answer's ``Warning`` headers (admission
    warnings, deprecations) are appended to it, success or not.
    """
    try:
        api_client = api_client_for(cluster)
    except (ssl.SSLError, ValueError) as exc:
        # A CA bundle or client key that does not load will not fix itself.
        raise _cluster_error(cluster, action, status=None, message=f"unusable TLS credentials: {exc}", retryable=False) from None
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    try:
        method, url, header_params, body, post_params = api_client.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"],
        )
        response = api_client.call_api(method, url, header_params, body, post_params, _request_timeout=_timeout(read_timeout))
    except ApiException as exc:
        # The REST layer turns TLS failures into status 0. A certificate the
        # CA bundle does not trust will not fix itself: not retryable.
        text = str(exc.reason or exc)
        verify_failed = "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text
        raise _cluster_error(cluster, action, status=None, message=f"TLS error: {text.splitlines()[-1]}",
                             retryable=not verify_failed) from None
    except urllib3.exceptions.HTTPError as exc:
        raise _cluster_error(cluster, action, status=None, message=f"cluster unreachable ({type(exc).__name__}: {exc})",
                             retryable=True) from None
    except OSError as exc:
        raise _cluster_error(cluster, action, status=None, message=f"cluster unreachable ({exc})", retryable=True) from None
    if stream:
        if not 200 <= response.status <= 299:
            data = response.read()
            message = _status_message(response.status, data, response.reason)
            raise _cluster_error(cluster, action, status=response.status, message=message,
                                 retryable=is_retryable_status(response.status, message))
        return response.response
    if warnings is not None:
        warnings.extend(_warning_texts(response.getheaders()))
    try:
        data = response.read()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _cluster_error(cluster, action, status=None, message=f"connection lost reading the answer ({exc})", retryable=True) from None
    if not 200 <= response.status <= 299:
        message = _status_message(response.status, data, response.reason)
        raise _cluster_error(cluster, action, status=response.status, message=message,
                             retryable=is_retryable_status(response.status, message))
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError:
        raise _cluster_error(cluster, action, status=response.status, message="answer is not JSON", retryable=True) from None


def _warning_texts(headers) -> list[str]:
    """The texts of ``Warning: 299 - "text"`` headers (RFC 7234 form the API server uses)."""
    values = headers.getlist("Warning") if hasattr(headers, "getlist") else [v for k, v in dict(headers).items() if k.lower() == "warning"]
    texts = []
    for value in values:
        for part in re.findall(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"', value) or [value]:
            texts.append(part.replace('\\"', '"'))
    return texts


# --- Verbs ---------------------------------------------------------------------------


class NotOwnedError(ClusterError):
    """The namespace exists on the cluster but is not the portal's: nothing is written to it."""

    def __init__(self, cluster, name: str, detail: str = ""):
        super().__init__(f"{cluster.name}: namespace {name} exists on the cluster and is not managed by the portal{detail}",
                         status=None, retryable=False)
        self.namespace = name


@dataclass(frozen=True)
class Ownership:
    """How the portal recognises a Namespace object as its own.

    ``labels`` and ``annotations`` are the mark (the annotation names the
    portal's row, so a copied label is not enough); ``uid`` is the
    ``metadata.uid`` the portal recorded when it created (or an admin
    adopted) the namespace, empty before that. ``adopted``: a platform
    admin confirmed taking over the namespace with this ``uid``, so the
    mark may still be missing (the first apply writes it).
    """

    labels: dict[str, str]
    annotations: dict[str, str]
    uid: str = ""
    adopted: bool = False

    def owns(self, live: dict) -> bool:
        meta = live.get("metadata") or {}
        if self.uid and meta.get("uid") != self.uid:
            return False  # deleted and re-created by someone else since
        if self.adopted:
            return bool(self.uid)
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        return (all(labels.get(k) == v for k, v in self.labels.items())
                and all(annotations.get(k) == v for k, v in self.annotations.items()))


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did: the live objects, the Namespace's uid, and whether this call created it."""

    objects: list[dict]
    namespace_uid: str
    created: bool


def _ensure_namespace(cluster, namespace_obj: dict, ownership: Ownership) -> tuple[dict, bool]:
    """The live Namespace once the portal may write into it; (live, created by this call).

    A missing namespace is created with a POST carrying only the mark: a
    create fails (409) when the name exists, so a namespace made by someone
    else between our read and our write is never adopted — unlike an apply,
    which would happily patch it. An existing namespace must carry the mark.
    """
    name = namespace_obj["metadata"]["name"]
    live = get_object(cluster, "v1", "Namespace", name)
    if live is not None:
        if not ownership.owns(live):
            raise NotOwnedError(cluster, name)
        return live, False
    if ownership.adopted:
        raise ClusterError(f"{cluster.name}: namespace {name} no longer exists on the cluster, so there is nothing to adopt",
                           status=404, retryable=False)
    skeleton = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(ownership.labels), "annotations": dict(ownership.annotations)}}
    try:
        live = _request(cluster, "POST", resource_type("v1", "Namespace").collection_path(), action=f"create Namespace {name}",
                        query=[("fieldManager", settings.KUBE_FIELD_MANAGER)], body=skeleton)
    except ClusterError as exc:
        if exc.status == 409:
            raise NotOwnedError(cluster, name, " (someone else created it just now)") from None
        raise
    return live, True


def object_key(obj: dict) -> str:
    """``Kind/namespace/name`` (``Kind/name`` for cluster-scoped objects): how ``apply`` names what it did."""
    meta = obj["metadata"]
    return "/".join(p for p in (obj["kind"], meta.get("namespace"), meta["name"]) if p)


def apply(cluster, objects: list[dict], *, ownership: Ownership, skip: frozenset[str] = frozenset()) -> Applied:
    """Apply a namespace's bundle (``objects[0]`` is the Namespace); returns what was done.

    The Namespace is created when missing, or must be the portal's own
    (``Ownership``); otherwise ``NotOwnedError`` and nothing is written.
    Then each object is server-side applied in order (one PATCH each).
    ``force=true`` takes ownership of fields another manager set (e.g. a
    hand-edited quota): the portal's desired state wins, which is how drift
    is repaired. Stops at the first failure, raising ClusterError with
    ``applied``: the keys (``object_key``) written before it, so a retry of the
    same bundle can pass them as ``skip`` and write only the rest.
    """
    first = objects[0] if objects else {}
    if (first.get("apiVersion"), first.get("kind")) != ("v1", "Namespace"):
        raise ValueError("a bundle starts with its Namespace")
    namespace = first["metadata"]["name"]
    for obj in objects[1:]:
        if obj["metadata"].get("namespace") != namespace:
            raise ValueError(f"{obj['kind']} {obj['metadata']['name']} is not in namespace {namespace}")
    live, created = _ensure_namespace(cluster, first, ownership)
    uid = live["metadata"].get("uid", "")
    applied, done = [], []
    try:
        for obj in objects:
            if object_key(obj) in skip:
                continue
            rt = resource_type(obj["apiVersion"], obj["kind"])
            meta = obj["metadata"]
            path = rt.object_path(meta["name"], meta.get("namespace"))
            applied.append(_request(
                cluster, "PATCH", path,
                action=f"apply {obj['kind']} {meta.get('namespace', '') + '/' if rt.namespaced else ''}{meta['name']}",
                # Strict: a field the server does not know is an error, never silently dropped.
                query=[("fieldManager", settings.KUBE_FIELD_MANAGER), ("force", "true"), ("fieldValidation", "Strict")],
                body=obj, content_type="application/apply-patch+yaml",
            ))
            done.append(object_key(obj))
    except ClusterError as exc:
        exc.applied = done
        if not created or exc.retryable:
            raise  # a retry resumes where this attempt stopped (``skip``)
        # Refused for good right after we created the namespace: remove it
        # rather than leave a half-made namespace (no quota, no bindings).
        raise ClusterError(f"{exc}; {_remove_half_made(cluster, namespace, uid)}", status=exc.status, retryable=False) from None
    return Applied(applied, uid, created)


def _remove_half_made(cluster, name: str, uid: str) -> str:
    rt = resource_type("v1", "Namespace")
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    try:
        _request(cluster, "DELETE", rt.object_path(name), action=f"delete Namespace {name}", body=body)
    except ClusterError as exc:
        return f"the namespace created for this attempt could not be removed ({exc})"
    return "the namespace created for this attempt was removed"


def get_object(cluster, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
    """The live object, or None when it does not exist."""
    rt = resource_type(api_version, kind)
    try:
        return _request(cluster, "GET", rt.object_path(name, namespace), action=f"get {kind} {name}")
    except ClusterError as exc:
        if exc.status == 404:
            return None
        raise


def list_objects(cluster, api_version: str, kind: str, namespace: str | None = None, label_selector: str = "") -> list[dict]:
    """Objects of one kind (in one namespace), optionally filtered by a label selector."""
    rt = resource_type(api_version, kind)
    query = [("labelSelector", label_selector)] if label_selector else []
    items: list[dict] = []
    continue_token = ""
    while True:
        page_query = query + [("limit", "500")] + ([("continue", continue_token)] if continue_token else [])
        data = _request(cluster, "GET", rt.collection_path(namespace), action=f"list {rt.plural}", query=page_query)
        items.extend(data.get("items") or [])
        continue_token = (data.get("metadata") or {}).get("continue") or ""
        if not continue_token:
            return items


def delete_object(cluster, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    """Delete one object; False when it was already gone (404 counts as done)."""
    rt = resource_type(api_version, kind)
    if rt.kind == "Namespace":
        raise ValueError("namespaces are deleted with delete_namespace, which checks the portal owns them")
    try:
        _request(cluster, "DELETE", rt.object_path(name, namespace), action=f"delete {kind} {name}")
    except ClusterError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def delete_namespace(cluster, name: str, *, ownership: Ownership) -> bool:
    """Delete a namespace the portal owns (the cluster then removes everything in it); False if already gone.

    ``NotOwnedError`` when it exists without the portal's mark: the portal
    never deletes what it did not create. The DELETE carries the uid it
    checked as a precondition, so a namespace re-created meanwhile is safe.
    """
    live = get_object(cluster, "v1", "Namespace", name)
    if live is None:
        return False
    if not ownership.owns(live):
        raise NotOwnedError(cluster, name)
    rt = resource_type("v1", "Namespace")
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": live["metadata"]["uid"]}}
    try:
        _request(cluster, "DELETE", rt.object_path(name), action=f"delete Namespace {name}", body=body)
    except ClusterError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def whoami(cluster) -> str:
    """The username the cluster knows the portal's credentials as (a SelfSubjectReview)."""
    data = _request(cluster, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", action="who am I",
                    body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return str(((data.get("status") or {}).get("userInfo") or {}).get("username") or "")


def get_version(cluster) -> str:
    """The API server's ``gitVersion`` (e.g. ``v1.32.0``): the health check."""
    data = _request(cluster, "GET", "/version", action="get version")
    return str(data.get("gitVersion") or "")


def read_quota(cluster, namespace: str, name: str) -> dict:
    """``status`` of a ResourceQuota: ``{"hard": {...}, "used": {...}}``; ClusterError(404) when missing."""
    data = _request(cluster, "GET", resource_type("v1", "ResourceQuota").object_path(name, namespace),
                    action=f"read quota {namespace}/{name}")
    status = data.get("status") or {}
    return {"hard": dict(status.get("hard") or {}), "used": dict(status.get("used") or {})}


# --- CertificateSigningRequests ---------------------------------------------------------


def _refuse_privileged_groups(csr_pem: bytes) -> None:
    """Never ask the client signer for ``system:masters`` (the API server refuses it anyway)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise ClusterError(f"not a PEM certificate signing request: {exc}", retryable=False) from None
    groups = [attr.value for attr in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if "system:masters" in groups:
        raise ClusterError("a client certificate for the group system:masters is never requested", retryable=False)


def create_csr(cluster, name: str, csr_pem: bytes | str, expiration_seconds: int, *, labels: dict | None = None) -> dict:
    """Create a ``certificates.k8s.io/v1`` CSR for the kube-apiserver client signer."""
    if isinstance(csr_pem, str):
        csr_pem = csr_pem.encode()
    _refuse_privileged_groups(csr_pem)
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "platform-portal", **(labels or {})}},
        "spec": {
            "request": base64.b64encode(csr_pem).decode(),
            "signerName": CLIENT_SIGNER,
            "usages": list(CSR_USAGES),
            "expirationSeconds": int(expiration_seconds),
        },
    }
    return _request(cluster, "POST", CSR_PATH, action=f"create CSR {name}", body=body)


def approve_csr(cluster, name: str, message: str, *, reason: str = "PortalApproved") -> dict:
    """Approve through the ``approval`` subresource (needs ``approve`` on the signer).

    Read-modify-write with the object's resourceVersion; a 409 (someone
    else updated it meanwhile) is retried a few times with a fresh read.
    """
    path = f"{CSR_PATH}/{quote(name, safe='')}"
    for attempt in range(3):
        csr = _request(cluster, "GET", path, action=f"get CSR {name}")
        conditions = (csr.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Approved" and c.get("status") == "True" for c in conditions):
            return csr
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        csr.setdefault("status", {})["conditions"] = conditions + [{
            "type": "Approved", "status": "True", "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now,
        }]
        try:
            return _request(cluster, "PUT", f"{path}/approval", action=f"approve CSR {name}", body=csr)
        except ClusterError as exc:
            if exc.status != 409 or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _certificate_or_failure(cluster, csr: dict) -> bytes | None:
    status = csr.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Denied", "Failed") and condition.get("status") == "True":
            raise ClusterError(
                f"{cluster.name}: CSR {csr['metadata']['name']} {condition['type'].lower()}: {condition.get('message') or condition.get('reason', '')}",
                retryable=False,
            )
    if status.get("certificate"):
        return base64.b64decode(status["certificate"])
    return None


def _watch_events(raw) -> Iterator[dict]:
    """Decode a watch stream: one JSON event per line, lines may span chunks."""
    buffer = b""
    for chunk in raw.stream(4096, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)


def wait_for_certificate(cluster, name: str, timeout: float) -> bytes:
    """Wait until the signer issued the certificate; returns its PEM bytes.

    Reads the CSR once, then WATCHes it from that resourceVersion (no
    polling) until ``status.certificate`` appears, the CSR is denied/failed
    (not retryable), or ``timeout`` seconds pass (retryable ClusterError).
    """
    deadline = time.monotonic() + timeout
    path = f"{CSR_PATH}/{quote(name, safe='')}"
    csr = _request(cluster, "GET", path, action=f"get CSR {name}")
    certificate = _certificate_or_failure(cluster, csr)
    if certificate is not None:
        return certificate
    resource_version = csr["metadata"].get("resourceVersion", "")
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClusterError(f"{cluster.name}: no certificate issued for CSR {name} within {timeout:g}s", retryable=True)
        query = [("watch", "true"), ("fieldSelector", f"metadata.name={name}"), ("allowWatchBookmarks", "false"),
                 ("timeoutSeconds", str(max(1, int(remaining + 0.999))))]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        raw = _request(cluster, "GET", CSR_PATH, action=f"watch CSR {name}", query=query, stream=True,
                       read_timeout=remaining + 1)
        try:
            for event in _watch_events(raw):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    # 410 Gone: our resourceVersion is too old; start over from a fresh read.
                    resource_version = ""
                    break
                if kind == "DELETED":
                    raise ClusterError(f"{cluster.name}: CSR {name} was deleted before a certificate was issued", retryable=False)
                resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                certificate = _certificate_or_failure(cluster, obj)
                if certificate is not None:
                    return certificate
        except (urllib3.exceptions.HTTPError, OSError):
            # Read timeout or a dropped stream: fall through to the deadline check.
            pass
        finally:
            raw.release_conn()
        if not resource_version:
            csr = _request(cluster, "GET", path, action=f"get CSR {name}")
            certificate = _certificate_or_failure(cluster, csr)
            if certificate is not None:
                return certificate
            resource_version = csr["metadata"].get("resourceVersion", "")


def delete_csr(cluster, name: str) -> bool:
    """Delete a CSR (after the certificate was collected); False if already gone."""
    return delete_object(cluster, "certificates.k8s.io/v1", "CertificateSigningRequest", name)


# --- Reading what other controllers own (read-only) ------------------------------------
# Policy engines' objects (Gatekeeper constraints, wg-policy reports) are
# custom resources the portal only reads: found through discovery, listed
# page by page, never written.


def served_resources(cluster, group_version: str) -> list[dict] | None:
    """The resources ``group_version`` serves (discovery), or None when the cluster does not serve it (404)."""
    try:
        data = _request(cluster, "GET", f"/apis/{group_version}", action=f"discover {group_version}")
    except ClusterError as exc:
        if exc.status == 404:
            return None
        raise
    return [r for r in data.get("resources") or [] if "/" not in r.get("name", "")]


def list_pages(cluster, path: str, *, action: str, label_selector: str = "", page_size: int = 500,
               calls: list | None = None) -> Iterator[dict]:
    """Every item of a collection path (all namespaces unless the path names one), ``page_size`` per request.

    With a ``calls`` list, one entry is appended per request made (to count them).
    """
    query = [("labelSelector", label_selector)] if label_selector else []
    continue_token = ""
    while True:
        page_query = query + [("limit", str(page_size))] + ([("continue", continue_token)] if continue_token else [])
        data = _request(cluster, "GET", path, action=action, query=page_query)
        if calls is not None:
            calls.append(path)
        yield from data.get("items") or []
        continue_token = (data.get("metadata") or {}).get("continue") or ""
        if not continue_token:
            return



# --- Preflight: the cluster's own admission chain, without writing --------------------


@dataclass
class PreflightItem:
    kind: str
    name: str
    outcome: str  # accepted | denied | not_checked
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    # False for a denial no override may pass (the portal's own rules, e.g. a
    # namespace it does not own): approval refuses it with its own message.
    overridable: bool = True


def preflight(cluster, objects: list[dict]) -> list[PreflightItem]:
    """Server-side dry run (``dryRun=All``) of each object, as the portal would apply it; nothing is written.

    Every object goes through the cluster's admission chain (Pod Security,
    quota, webhooks such as Gatekeeper's), so a denial here is the message
    the real apply would get. Objects in a namespace that does not exist yet
    cannot be dry-run (their namespace would be created by the same apply):
    they are ``not_checked``. A cluster that cannot be reached raises
    ClusterError: that is not a denial.
    """
    items, namespace_exists = [], None
    for obj in objects:
        rt = resource_type(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        warnings: list[str] = []
        if rt.namespaced and namespace_exists is False:
            items.append(PreflightItem(obj["kind"], meta["name"], "not_checked",
                                       f"namespace {meta['namespace']} does not exist yet; checked when it is created"))
            continue
        try:
            _request(cluster, "PATCH", rt.object_path(meta["name"], meta.get("namespace")),
                     action=f"dry-run apply {obj['kind']} {meta['name']}",
                     query=[("dryRun", "All"), ("fieldManager", settings.KUBE_FIELD_MANAGER), ("force", "true"),
                            ("fieldValidation", "Strict")],
                     body=obj, content_type="application/apply-patch+yaml", warnings=warnings)
        except ClusterError as exc:
            if exc.status is None or exc.retryable:
                raise
            items.append(PreflightItem(obj["kind"], meta["name"], "denied", str(exc), warnings))
            continue
        if obj["kind"] == "Namespace":
            namespace_exists = get_object(cluster, "v1", "Namespace", meta["name"]) is not None
        items.append(PreflightItem(obj["kind"], meta["name"], "accepted", "", warnings))
    return items
