"""Admission: the built-in plugins kube-apiserver runs, one module each, in the order of ``PLUGINS`` below.

Each plugin follows its upstream source and quotes its messages. Warnings
(PodSecurity's ``warn`` label) are read per thread with
:func:`kubesim.admission.plugin.pop_warnings`.
"""

from __future__ import annotations

import copy

from ..types import UserInfo
from .certificateapproval import CertificateApproval
from .certificatesubjectrestriction import CertificateSubjectRestriction
from .csrstrategy import CSRStrategy
from .defaulting import PodDefaulting
from .limitranger import LimitRanger
from .namespacelifecycle import NamespaceLifecycle
from .plugin import AdmissionRequest
from .podsecurity import PodSecurity
from .rbacescalation import RBACEscalation
from .resourcequota import ResourceQuota

# The chain, in order; the first plugin to raise refuses the write. kube-apiserver orders its plugins
# by AllOrderedPlugins (pkg/kubeapiserver/options/plugins.go): NamespaceLifecycle, LimitRanger,
# PodSecurity, CertificateApproval, CertificateSubjectRestriction, ..., ResourceQuota last; the
# plugins here keep that order. The real server runs every plugin's mutating half, then every
# validating half; kubesim runs each plugin once. PodDefaulting, RBACEscalation and CSRStrategy do
# what upstream does outside admission (while decoding, in the registry), at these points.
PLUGINS = (
    NamespaceLifecycle,
    PodDefaulting,
    LimitRanger,
    RBACEscalation,
    CSRStrategy,
    PodSecurity,
    CertificateApproval,
    CertificateSubjectRestriction,
    ResourceQuota,
)


class Admission:
    """Runs the admission chain for one write."""

    def __init__(self, store, authorizer):
        self.store = store
        self.authorizer = authorizer
        self.plugins = [plugin(store, authorizer) for plugin in PLUGINS]

    def admit(self, operation: str, rt, obj: dict | None, old: dict | None, user: UserInfo,
              subresource: str = "", dry_run: bool = False) -> dict | None:
        """Admit (and possibly mutate) one write; raises :class:`errors.StatusError` when refused.

        ``operation`` is "CREATE", "UPDATE" or "DELETE"; ``obj`` the incoming object
        (None for DELETE), ``old`` the stored one (None for CREATE). The returned
        object is the one to store. ``dry_run`` changes nothing here: admission
        never writes, so a dry run is admitted exactly like the real request.
        """
        obj = copy.deepcopy(obj) if obj is not None else None
        a = AdmissionRequest(operation, rt, obj, old, user, subresource, _namespace_of(rt, obj, old))
        for plugin in self.plugins:
            # Without an object (a DELETE) only the plugins that handle DELETE have anything to look at.
            if operation in plugin.operations and (obj is not None or "DELETE" in plugin.operations):
                plugin.admit(a)
        return obj


def _namespace_of(rt, obj, old) -> str:
    if not rt.namespaced:
        return ""
    for source in (obj, old):
        ns = ((source or {}).get("metadata") or {}).get("namespace")
        if ns:
            return ns
    return ""
