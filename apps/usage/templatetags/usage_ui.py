"""Usage charts on the namespace, team and clusters pages (server-rendered SVG, text alternative each)."""

from django import template

from apps.core.charts import bar_chart
from apps.usage.selectors import WINDOWS, clusters_usage, fmt, namespace_history, team_usage

register = template.Library()
CHARTED = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods")


def _label(moment, window: str) -> str:
    return moment.strftime("%H:%M" if window == "24h" else "%m-%d %H:00")


def _charts(points: list[dict], window: str, resources) -> list[dict]:
    charts = []
    for resource in resources:
        values = [(_label(p["at"], window), p["used"].get(resource, 0.0)) for p in points]
        if not any(v for _, v in values):
            continue
        hard = points[-1]["hard"].get(resource) if points else None
        chart = bar_chart(values, height=60, ceiling=hard, fmt=lambda v, r=resource: fmt(r, v))
        chart.update(hard_text=fmt(resource, hard) if hard else "")
        charts.append({"resource": resource, "chart": chart, "id": f"usage-{resource.replace('.', '-')}"})
    return charts


@register.inclusion_tag("usage/_namespace.html", takes_context=True)
def namespace_usage(context, namespace):
    request = context.get("request")
    window = request.GET.get("usage", "24h") if request is not None else "24h"
    window = window if window in WINDOWS else "24h"
    points = namespace_history(namespace, window)
    return {"charts": _charts(points, window, CHARTED), "window": window, "windows": list(WINDOWS), "namespace": namespace,
            "samples": len(points)}


@register.inclusion_tag("usage/_team.html")
def team_usage_block(team):
    rows = []
    for entry in team_usage(team):
        resources = sorted(set(entry["hard"]) | set(entry["budget"]))
        lines = [{"resource": r, "used": fmt(r, entry["used"].get(r, 0.0)), "hard": fmt(r, entry["hard"].get(r, 0.0)),
                  "budget": fmt(r, entry["budget"][r]) if r in entry["budget"] else "",
                  "percent": int(min(100, entry["hard"].get(r, 0.0) * 100 / entry["budget"][r])) if entry["budget"].get(r) else None,
                  "over": r in entry["budget"] and entry["hard"].get(r, 0.0) > entry["budget"][r]} for r in resources]
        rows.append({**entry, "lines": lines, "charts": _charts(entry["history"], "7d", ("requests.cpu", "requests.memory"))})
    return {"rows": rows, "team": team}


@register.inclusion_tag("usage/_clusters.html")
def clusters_usage_block(clusters):
    """Every cluster's allocation against its capacity (two queries for all of them)."""
    blocks = []
    for cluster, figures in zip(clusters, clusters_usage(clusters), strict=True):
        resources = sorted(set(figures["allocated"]) | set(figures["capacity"]))
        lines = [{"resource": r, "allocated": fmt(r, figures["allocated"].get(r, 0.0)), "used": fmt(r, figures["used"].get(r, 0.0)),
                  "capacity": fmt(r, figures["capacity"][r]) if r in figures["capacity"] else "",
                  "percent": int(min(100, figures["allocated"].get(r, 0.0) * 100 / figures["capacity"][r])) if figures["capacity"].get(r) else None}
                 for r in resources]
        top = [{"team": t["team"], "cpu": fmt("requests.cpu", t["allocated"].get("requests.cpu", 0.0)),
                "memory": fmt("requests.memory", t["allocated"].get("requests.memory", 0.0))} for t in figures["top_teams"]]
        blocks.append({"figures": figures, "lines": lines, "top": top, "cluster": cluster})
    return {"blocks": blocks}
