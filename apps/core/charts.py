"""Server-rendered SVG charts: no script, no network, no inline style (the CSP allows none), a text alternative each.

``bar_chart`` turns points into the geometry ``templates/charts/bars.html``
draws; the template also renders the figures as a table for screen readers
and as the chart's ``<title>``/``<desc>``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    text: str


def bar_chart(points: list[tuple[str, float]], *, width: int = 600, height: int = 120, gap: float = 2.0,
              ceiling: float | None = None, fmt=None) -> dict:
    """Geometry of a bar chart of ``points`` (label, value).

    The top of the chart is ``ceiling`` (e.g. the quota's hard value) or the
    tallest bar; ``fmt(value)`` writes a value for people (default ``str``).
    """
    fmt = fmt or (lambda v: f"{v:g}")
    peak = max((value for _, value in points), default=0)
    top = max(ceiling or 0, peak) or 1
    step = width / max(len(points), 1)
    bars = [Bar(x=round(i * step + gap / 2, 2), y=round(height - value / top * height, 2), width=round(max(step - gap, 1), 2),
                height=round(value / top * height, 2), label=label, value=value, text=fmt(value)) for i, (label, value) in enumerate(points)]
    return {"bars": bars, "width": width, "height": height, "peak": fmt(peak), "top": fmt(top),
            "first": points[0][0] if points else "", "last": points[-1][0] if points else ""}
