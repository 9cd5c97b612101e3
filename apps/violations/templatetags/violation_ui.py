"""Violations on the namespace and team pages: open ones, how fresh, and where Gatekeeper cut its list short."""

from django import template

from apps.violations.selectors import freshness, policy_descriptions, truncated_constraints

register = template.Library()
SHOWN = 50


def _block(violations, cluster_ids, title):
    open_rows = list(violations.filter(resolved_at__isnull=True).select_related("cluster").order_by("-id")[:SHOWN + 1])
    fresh = freshness(cluster_ids)
    return {"violations": open_rows[:SHOWN], "more": len(open_rows) > SHOWN, "title": title,
            "freshness": [f for f in fresh.values()], "truncated": truncated_constraints(cluster_ids),
            "descriptions": policy_descriptions()}


@register.inclusion_tag("violations/_block.html")
def namespace_violations(namespace):
    return _block(namespace.violations.all(), [namespace.cluster_id], "Policy violations")


@register.inclusion_tag("violations/_block.html")
def team_violations(team):
    from apps.namespaces.models import Namespace

    clusters = set(Namespace.objects.filter(team=team).order_by().values_list("cluster_id", flat=True).distinct())
    return _block(team.violations.all(), clusters, "Policy violations in the team's namespaces")


@register.filter
def lookup(mapping, key):
    return (mapping or {}).get(key, "")
