"""Auto-approval rules: which enabled rule, if any, approves a request without a manager.

Rules are evaluated at submission, in order, first match wins; a condition
left empty matches anything. Conditions that only make sense for a quota
change (increase, utilisation) never match a namespace request; conditions on
quota never match a lifetime extension (it asks for time, not resources), and
the extension condition (``max_ttl_hours``) matches nothing else. Everything is
read from the database (usage from stored samples), never from a cluster.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.approvals.models import Request
from apps.core import quantities
from apps.quotas.models import ApprovalRule
from apps.usage.selectors import peak_usage


def _parse_all(values: dict) -> dict[str, Decimal] | None:
    try:
        return {resource: quantities.parse(raw) for resource, raw in (values or {}).items()}
    except ValueError:
        return None


def _within_tier(rule: ApprovalRule, asked: dict[str, Decimal]) -> bool:
    """Every requested value at most the tier's; a resource the tier does not set is above it."""
    ceiling = _parse_all(rule.max_tier.hard) or {}
    return all(resource in ceiling and value <= ceiling[resource] for resource, value in asked.items())


def _within_increase(rule: ApprovalRule, asked: dict[str, Decimal], previous: dict[str, Decimal]) -> bool:
    """Every resource at most ``max_increase_percent`` above its current value; a new resource is not an increase we can bound."""
    factor = 1 + Decimal(rule.max_increase_percent) / 100
    return all(resource in previous and value <= previous[resource] * factor for resource, value in asked.items())


def _utilised(rule: ApprovalRule, request: Request, previous: dict[str, Decimal]) -> bool:
    """The namespace's peak usage over the window is at least the rule's share of the current hard value, per resource."""
    since = timezone.now() - timedelta(days=rule.window_days)
    peaks = peak_usage(request.namespace, list(rule.min_utilisation), since)
    for resource, percent in rule.min_utilisation.items():
        hard, peak = previous.get(resource), peaks.get(resource)
        if not hard or peak is None or peak * 100 < hard * Decimal(str(percent)):
            return False
    return True


def rule_matches(rule: ApprovalRule, request: Request) -> bool:
    if rule.kind and rule.kind != request.kind:
        return False
    if rule.cluster_id and rule.cluster_id != request.cluster_id:
        return False
    if rule.team_id and rule.team_id != request.team_id:
        return False
    if request.kind == Request.Kind.EXTENSION:
        if rule.max_tier_id or rule.max_increase_percent is not None or rule.min_utilisation:
            return False
        return rule.max_ttl_hours is None or request.payload.get("ttl_hours", 0) <= rule.max_ttl_hours
    if rule.max_ttl_hours is not None:
        return False
    asked = _parse_all(request.payload.get("quota") or {})
    if asked is None:
        return False
    if rule.max_tier_id and not _within_tier(rule, asked):
        return False
    quota_only = rule.max_increase_percent is not None or rule.min_utilisation
    if quota_only and request.kind != Request.Kind.QUOTA:
        return False
    previous = _parse_all(request.payload.get("previous") or {}) or {}
    if rule.max_increase_percent is not None and not _within_increase(rule, asked, previous):
        return False
    return not rule.min_utilisation or _utilised(rule, request, previous)


def matching_rule(request: Request) -> ApprovalRule | None:
    """The first enabled rule, in order, that matches ``request``."""
    for rule in ApprovalRule.objects.filter(enabled=True).select_related("max_tier").order_by("order", "pk"):
        if rule_matches(rule, request):
            return rule
    return None
