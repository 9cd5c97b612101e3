"""Kubernetes resource quantities, parsed and compared as numbers.

Parsing uses the official client's ``parse_quantity`` (the same rules as
apimachinery's resource.Quantity) so "500m" < "1" and "1Gi" > "1G".
"""

from __future__ import annotations

from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity

# Resources a namespace quota may set, with the largest value we accept for
# each: a guard against typos such as "1000000Gi", not a capacity model.
QUOTA_RESOURCES: dict[str, Decimal] = {
    "requests.cpu": parse_quantity("1000"),
    "limits.cpu": parse_quantity("1000"),
    "requests.memory": parse_quantity("4Ti"),
    "limits.memory": parse_quantity("4Ti"),
    "requests.storage": parse_quantity("100Ti"),
    "persistentvolumeclaims": parse_quantity("1000"),
    "pods": parse_quantity("10000"),
    "services": parse_quantity("1000"),
}
COUNT_RESOURCES = {"persistentvolumeclaims", "pods", "services"}
# limits.X must be >= requests.X
PAIRS = (("requests.cpu", "limits.cpu"), ("requests.memory", "limits.memory"))


def parse(value: str) -> Decimal:
    """Parse a quantity; ValueError with a readable message when it is not one."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    text = str(value).strip()
    try:
        return parse_quantity(text)
    except (ValueError, TypeError):
        raise ValueError(f'"{text}" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)') from None


def quota_errors(hard: dict) -> dict[str, list[str]]:
    """Every problem with a quota's hard values, keyed by resource name.

    Empty when the quota is acceptable.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(hard, dict):
        return {"quota": ["must be an object of resource name to quantity"]}
    parsed: dict[str, Decimal] = {}
    for resource, raw in hard.items():
        if resource not in QUOTA_RESOURCES:
            allowed = ", ".join(QUOTA_RESOURCES)
            errors.setdefault(resource, []).append(f"unknown resource; allowed: {allowed}")
            continue
        try:
            value = parse(raw)
        except ValueError as exc:
            errors.setdefault(resource, []).append(str(exc))
            continue
        if value <= 0:
            errors.setdefault(resource, []).append("must be greater than zero")
        elif value > QUOTA_RESOURCES[resource]:
            errors.setdefault(resource, []).append(f"must be at most {format_quantity(QUOTA_RESOURCES[resource], resource)}")
        elif resource in COUNT_RESOURCES and value != value.to_integral_value():
            errors.setdefault(resource, []).append("must be a whole number")
        else:
            parsed[resource] = value
    for requests, limits in PAIRS:
        if requests in parsed and limits in parsed and parsed[limits] < parsed[requests]:
            errors.setdefault(limits, []).append(f"must be at least {requests} ({hard[requests]})")
    return errors


def format_quantity(value: Decimal, resource: str = "") -> str:
    """A readable quantity: binary units for memory/storage, millicores for cpu."""
    if "memory" in resource or "storage" in resource:
        for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= factor and value % factor == 0:
                return f"{value // factor}{suffix}"
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if "cpu" in resource and value != value.to_integral_value():
        return f"{int(value * 1000)}m"
    return str(int(value)) if value == value.to_integral_value() else str(value)
