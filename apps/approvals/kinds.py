"""Request kinds: what the app that owns a kind plugs into the request workflow.

The workflow (submit, decide with four eyes, the state machine, the request
pages and API) is the same for every kind. What approving a kind *does*, and
what its pages show beyond the request itself, only the owning app knows:
namespaces creates the namespace, onboarding the membership. That app
registers a ``RequestKind`` in its ``AppConfig.ready()``, so every process
(web, worker, shell) has all kinds once Django is set up, and approvals
never imports the apps built on it: they depend on approvals, not the other
way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from apps.approvals.models import Request


@dataclass(frozen=True)
class RequestKind:
    """The hooks of one kind of request. Only ``approve`` is required."""

    # ``approve(*, actor, request)`` runs inside ``request_approve``'s
    # transaction, after the approval is saved and audited: it carries out
    # what was asked for, and raising (ValidationError, ServiceError) undoes
    # the approval. It returns the Namespace it created, which the request
    # then links to, or None. State changes after that go through
    # ``request_mark_applying`` / ``_done`` / ``_failed``.
    approve: Callable[..., object]
    # ``progress(request)``: the timeline after "Approved by ..." (a list of
    # ``step``s), or None for the steps read from the request's own state.
    progress: Callable[[Request], list[dict] | None] | None = None
    # ``budget(requests)``: for each request id, the team's usage against its
    # budget if approved (``approvals/budget.html`` rows), shown to deciders.
    # One call per page, so it can read all teams at once.
    budget: Callable[[list[Request]], dict[int, list[dict]]] | None = None
    # ``preview(request)``: what approving it applies, as text (the detail
    # page shows it); "" when there is nothing to show.
    preview: Callable[[Request], str] | None = None
    # ``preflight(request)``: the cluster's admission verdict on what approving
    # applies, as a server-side dry run (``kube.preflight`` items); raises
    # ClusterError when the cluster cannot be asked.
    preflight: Callable[[Request], list] | None = None


_KINDS: dict[str, RequestKind] = {}


@dataclass(frozen=True)
class RequestPolicy:
    """A rule another app adds to every kind of request (budgets, auto-approval rules).

    ``check(request, lock=...)`` raises ValidationError when the request may
    not go ahead: on submit (``lock=False``, the request not saved yet) and
    again on approval, inside the decision's transaction (``lock=True``: take
    whatever row lock makes the check hold until commit).
    ``auto_approve(request)`` runs after a submit is recorded and returns the
    name of a rule that approves it without a manager, or None.
    """

    check: Callable[..., None] | None = None
    auto_approve: Callable[[Request], str | None] | None = None


_POLICIES: list[RequestPolicy] = []


def register_request_policy(policy: RequestPolicy) -> None:
    """Add ``policy`` to the workflow; call from the owning app's ``AppConfig.ready()``."""
    if policy not in _POLICIES:
        _POLICIES.append(policy)


def request_policies() -> tuple[RequestPolicy, ...]:
    return tuple(_POLICIES)


def register_request_kind(kind: str, hooks: RequestKind) -> None:
    """Plug ``kind`` into the workflow; call from the owning app's ``AppConfig.ready()``."""
    if kind not in Request.Kind.values:
        raise ImproperlyConfigured(f'"{kind}" is not a Request.Kind')
    _KINDS[kind] = hooks


def request_kind(kind: str) -> RequestKind:
    """The hooks registered for ``kind``."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise ImproperlyConfigured(f'no app registered the request kind "{kind}"; is the app that owns it in INSTALLED_APPS?') from None


def step(title: str, tone: str, when=None, detail: str = "", error: str = "") -> dict:
    """One entry of a request's timeline; ``tone``: ok, wait, busy, bad or muted."""
    return {"title": title, "tone": tone, "when": when, "detail": detail, "error": error}
