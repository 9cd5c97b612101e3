"""Template helpers shared by every page: role label, badges and quota bars."""

from __future__ import annotations

from django import template

from apps.core import quantities

register = template.Library()

# Phases and states that are still moving; the UI polls while it sees one.
UNSETTLED_PHASES = frozenset({"Pending", "Provisioning", "Terminating"})

_PHASE_TONE = {
    "Pending": "wait",
    "Provisioning": "busy",
    "Ready": "ok",
    "Failed": "bad",
    "Terminating": "busy",
    "Deleted": "muted",
}
_STATE_TONE = {
    "submitted": "wait",
    "approved": "busy",
    "applying": "busy",
    "done": "ok",
    "rejected": "bad",
    "failed": "bad",
    "cancelled": "muted",
}
_HEALTH_TONE = {"healthy": "ok", "unreachable": "bad", "unknown": "muted"}


@register.filter
def tone(value: str) -> str:
    """CSS tone (ok/wait/busy/bad/muted) of a namespace phase, request state or cluster health."""
    return _PHASE_TONE.get(value) or _STATE_TONE.get(value) or _HEALTH_TONE.get(value) or "muted"


@register.filter
def is_unsettled(phase: str) -> bool:
    """True while a namespace phase can still change on its own (worth polling)."""
    return phase in UNSETTLED_PHASES


@register.simple_tag(takes_context=True)
def nav_roles(context, user) -> dict:
    """What the nav bar shows about ``user``: a one-word role and whether they approve requests.

    One query, cached on the request so several tags on a page share it.
    """
    request = context.get("request")
    cached = getattr(request, "_portal_nav_roles", None)
    if cached is not None:
        return cached
    if not user.is_authenticated:
        roles = {"label": "", "approver": False}
    elif user.is_platform_admin:
        roles = {"label": "Platform admin", "approver": True}
    else:
        team_roles = set(user.memberships.values_list("role", flat=True))
        if user.can_audit:
            label = "Auditor"
        elif "manager" in team_roles:
            label = "Manager"
        elif "member" in team_roles:
            label = "Developer"
        elif "viewer" in team_roles:
            label = "Viewer"
        else:
            label = "No team yet"
        roles = {"label": label, "approver": "manager" in team_roles}
    if request is not None:
        request._portal_nav_roles = roles
    return roles


@register.simple_tag(takes_context=True)
def role_label(context, user) -> str:
    """The one-word role shown in the nav bar: platform role first, else the strongest team role."""
    return nav_roles(context, user)["label"]


@register.simple_tag
def quota_rows(hard: dict | None, used: dict | None = None) -> list[dict]:
    """One row per quota resource: hard and used values, and how full it is (0-100).

    Values are compared as Kubernetes quantities, never as strings. ``used`` is
    the ResourceQuota's ``status.used`` when the reconciler has observed it.
    """
    rows = []
    used = used or {}
    for resource, raw_hard in (hard or {}).items():
        row = {"resource": resource, "hard": raw_hard, "used": used.get(resource), "percent": None, "level": "ok"}
        if row["used"] is not None:
            try:
                hard_value = quantities.parse(raw_hard)
                used_value = quantities.parse(row["used"])
            except ValueError:
                pass
            else:
                if hard_value > 0:
                    percent = int(min(100, used_value * 100 / hard_value))
                    row["percent"] = percent
                    row["level"] = "bad" if percent >= 90 else "wait" if percent >= 70 else "ok"
        rows.append(row)
    return rows


@register.filter
def width_class(percent) -> str:
    """A usage bar's width as a CSS class (``w-0`` … ``w-100``, whole percent).

    The Content Security Policy forbids inline ``style`` attributes, so bar
    widths come from classes in portal.css instead; values outside 0–100 (an
    over-used quota) are clamped to a full or empty bar.
    """
    try:
        value = round(float(percent))
    except (TypeError, ValueError):
        return "w-0"
    return f"w-{min(100, max(0, value))}"
