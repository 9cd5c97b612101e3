"""Template helpers of the quota change pages."""

from django import template

from apps.quotas.selectors import quota_change_rows

register = template.Library()


@register.simple_tag
def quota_change_rows_for(req):
    """Rows of a quota change request: resource, current, requested, in use, below-usage flag."""
    return quota_change_rows(req)


@register.inclusion_tag("quotas/_team_budgets.html", takes_context=True)
def team_budgets(context, team):
    """The team's budget and allocation on every cluster (two queries whatever the number of namespaces)."""
    from apps.quotas.selectors import team_budget_overview

    return {"rows": team_budget_overview(team), "team": team, "is_platform_admin": context.get("is_platform_admin")}
