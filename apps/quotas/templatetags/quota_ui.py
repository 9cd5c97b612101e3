"""Template helpers of the quota change pages."""

from django import template

from apps.quotas.selectors import quota_change_rows

register = template.Library()


@register.simple_tag
def quota_rows(req):
    """Rows of a quota change request: resource, current, requested, in use, below-usage flag."""
    return quota_change_rows(req)
