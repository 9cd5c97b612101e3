"""Team budgets per cluster: what is allocated, and whether a request fits.

``budget_problems`` is the one check; submission calls it to refuse early
with a clear message, approval calls it again with ``lock=True`` inside the
decision's transaction. The lock is on the team's budget row for that
cluster, so two managers approving at the same moment are serialised and the
second one sees the first one's namespace (created in the same transaction as
its decision) in the sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from apps.core import quantities
from apps.namespaces.models import Namespace
from apps.quotas.models import TeamBudget

NOT_LIVE = (Namespace.Phase.TERMINATING, Namespace.Phase.DELETED)


@dataclass
class Allocation:
    """Sum of the hard values of a team's live namespaces on one cluster."""

    hard: dict[str, Decimal] = field(default_factory=dict)
    namespaces: int = 0


def sum_quotas(quotas) -> Allocation:
    """Sum of ``quotas`` (hard values of namespaces), as quantities."""
    total = Allocation()
    for quota in quotas:
        total.namespaces += 1
        for resource, raw in (quota or {}).items():
            try:
                total.hard[resource] = total.hard.get(resource, Decimal(0)) + quantities.parse(raw)
            except ValueError:
                continue  # validated on the way in; an old unparsable value counts as nothing rather than failing every check
    return total


def allocated(team, cluster, *, excluding: Namespace | None = None) -> Allocation:
    rows = Namespace.objects.filter(team=team, cluster=cluster).exclude(phase__in=NOT_LIVE)
    if excluding is not None:
        rows = rows.exclude(pk=excluding.pk)
    return sum_quotas(rows.values_list("quota", flat=True))


def _fmt(value: Decimal, resource: str) -> str:
    return quantities.format_quantity(value, resource)


def budget_problems(*, team, cluster, quota: dict, replacing: Namespace | None = None, lock: bool = False) -> list[str]:
    """Why ``quota`` (a new namespace's, or ``replacing``'s new one) does not fit the team's budget on ``cluster``.

    Empty when it fits or there is no budget. A resource the quota leaves
    out counts as zero. With ``lock=True`` (approval) the budget row is
    locked until the transaction ends.
    """
    budgets = TeamBudget.objects.filter(team=team, cluster=cluster)
    if lock:
        budgets = budgets.select_for_update()
    budget = budgets.first()
    if budget is None:
        return []
    current = allocated(team, cluster, excluding=replacing)
    problems = []
    for resource, raw_limit in sorted(budget.hard.items()):
        limit = quantities.parse(raw_limit)
        try:
            asked = quantities.parse(quota.get(resource, 0))
        except ValueError:
            continue  # the quota's own validation reports it
        used = current.hard.get(resource, Decimal(0))
        if used + asked > limit:
            problems.append(f"{resource}: {_fmt(used, resource)} already allocated on {cluster.name} + {_fmt(asked, resource)} "
                            f"requested = {_fmt(used + asked, resource)}, over the team's budget of {raw_limit} "
                            f"by {_fmt(used + asked - limit, resource)}")
    if budget.namespaces is not None and replacing is None and current.namespaces + 1 > budget.namespaces:
        problems.append(f"namespaces: the team already has {current.namespaces} live namespace"
                        f"{'s' if current.namespaces != 1 else ''} on {cluster.name}, its budget allows {budget.namespaces}")
    return problems


def rows_against_budget(budget: TeamBudget, current: Allocation, quota: dict) -> list[dict]:
    """Per budgeted resource: allocated now, this request, after it, the budget and what is left."""
    rows = []
    for resource, raw_limit in sorted(budget.hard.items()):
        limit = quantities.parse(raw_limit)
        used = current.hard.get(resource, Decimal(0))
        try:
            asked = quantities.parse(quota.get(resource, 0))
        except ValueError:
            asked = Decimal(0)
        after = used + asked
        rows.append({"resource": resource, "allocated": _fmt(used, resource), "requested": _fmt(asked, resource),
                     "after": _fmt(after, resource), "budget": raw_limit,
                     "left": _fmt(limit - after, resource) if after <= limit else "-" + _fmt(after - limit, resource),
                     "percent": int(min(100, after * 100 / limit)) if limit > 0 else 100, "over": after > limit})
    return rows


def budget_rows(team, cluster, *, quota: dict | None = None, replacing: Namespace | None = None) -> list[dict]:
    """For pages: the team's budget on ``cluster`` with ``quota`` added (replacing a namespace's own); [] without a budget."""
    budget = TeamBudget.objects.filter(team=team, cluster=cluster).first()
    if budget is None:
        return []
    return rows_against_budget(budget, allocated(team, cluster, excluding=replacing), quota or {})
