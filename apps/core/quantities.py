"""Kubernetes resource quantities, parsed and compared as numbers.

The parser follows apimachinery's ``resource.ParseQuantity`` exactly, so the
portal accepts a quantity if and only if the API server does and reads the
same value from it: an approved request never fails on the cluster because of
how a number was written. The grammar is

    <quantity>     ::= <signedNumber><suffix>
    <signedNumber> ::= [+-] <digits> | [+-] <digits>. | [+-] <digits>.<digits> | [+-] .<digits>
    <suffix>       ::= Ki | Mi | Gi | Ti | Pi | Ei            (powers of 1024)
                     | n | u | m | "" | k | M | G | T | P | E  (powers of 1000)
                     | e<signed int> | E<signed int>        (powers of 10)

with ASCII digits only and no whitespace anywhere. The real parser is more
lenient than that grammar in a few corners ("+", "." and "Ki" all parse as
zero, "1.Gi" is fine) and stricter in others (".Pi" is refused); those corners
are reproduced here rather than tidied up, and then refused by the quota rules
(zero is not a quota). Its 32-bit arithmetic on exponents is kept too: "1.55e-2147483647"
overflows to an enormous number on the server, so it must here, or the portal
would check a different number than the cluster stores.

This module does not use the ``kubernetes`` client's ``parse_quantity``: it
drops spaces and hands the number to Python's ``Decimal``, so it accepts
"2 Gi", "NaN", "inf", "1_000" and non-ASCII digits, all of which the API
server refuses.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, ROUND_UP, Decimal, localcontext

# The grammar's shape. Greedy groups split a string the way the real scanner
# does (longest number first); the suffix is then interpreted on its own.
_SHAPE = re.compile(r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:(?P<dot>\.)(?P<frac>[0-9]*))?(?P<suffix>[eEinumkKMGTP]*[+-]?[0-9]*)", re.ASCII)
_WRITTEN_EXPONENT = re.compile(r"[eE][+-]?[0-9]+\Z", re.ASCII)
_INT64 = re.compile(r"[+-]?[0-9]+", re.ASCII)  # strconv.ParseInt(s, 10, 64) before its range check
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_MAX_INT64 = 2**63 - 1
_MAX_INT32 = 2**31 - 1
_NANO = Decimal("1e-9")
_EXAMPLES = "500m, 2, 1.5, 512Mi, 2Gi, 1e3"
_UNITS = "Ki Mi Gi Ti Pi Ei (powers of 1024), m k M G T P E (powers of 1000), or e<exponent>"


class QuantityError(ValueError):
    """Not a Kubernetes quantity; the message says what to write instead."""


def _int32(value: int) -> int:
    """Go's int32 conversion and overflow: wrap around modulo 2**32."""
    return (value + 2**31) % 2**32 - 2**31


def _exponent(text: str) -> int | None:
    """A decimal exponent ("3", "+3", "-0012"), or None when it is not one the server accepts."""
    if not _INT64.fullmatch(text):
        return None
    significant = text.lstrip("+-").lstrip("0")
    if len(significant) > 10:  # beyond int32 whatever the digits; also spares int() a huge string
        return None
    value = int(significant or "0") * (-1 if text.startswith("-") else 1)
    return value if abs(value) <= _MAX_INT32 else None


def _describe(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return '"' + shown.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _refuse(text: str) -> QuantityError:
    """The error for a string the API server would refuse, with a hint when the mistake is a common one."""
    base = f"{_describe(text)} is not a Kubernetes quantity"
    if text.strip() == "":
        hint = "enter a number, e.g. " + _EXAMPLES
    elif any(ch.isspace() for ch in text):
        compact = "".join(text.split())[:40]
        if compact == text.strip()[:40]:
            hint = f"remove the spaces around it (write {compact})"
        else:
            hint = f"remove the spaces (write {compact}, not {text.strip()[:40]})"
    elif "," in text or "_" in text:
        hint = "write the number without separators, e.g. 1000 or 1k"
    elif any(not ch.isascii() for ch in text):
        hint = "use ASCII digits 0-9 and a unit: " + _UNITS
    else:
        hint = "write a number followed by an optional unit: " + _UNITS
    return QuantityError(f"{base}: {hint}; examples: {_EXAMPLES}")


def parse(value) -> Decimal:
    """The exact value the API server reads from a quantity; QuantityError (a ValueError) when it refuses it.

    Takes the strings of a ResourceList, or the integers a JSON body may carry.
    Negative values and zero parse (the server accepts them in a Quantity);
    whether they make sense is the caller's rule (see ``quota_errors``).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity: write it as a string, e.g. {_EXAMPLES}")
    try:
        text = str(value)
    except ValueError:  # an int too long for str() (sys.int_max_str_digits)
        raise QuantityError("that number is too long to be a Kubernetes quantity; examples: " + _EXAMPLES) from None
    match = _SHAPE.fullmatch(text) if text else None
    if match is None:
        raise _refuse(text)
    sign, whole, frac, suffix = match["sign"], match["int"], match["frac"] or "", match["suffix"]
    negative = sign == "-"
    num = whole.lstrip("0") or "0"
    if suffix in _DECIMAL_SUFFIXES:
        binary, exponent = False, _DECIMAL_SUFFIXES[suffix]
    elif suffix in _BINARY_SUFFIXES:
        binary, exponent = True, _BINARY_SUFFIXES[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE" and _exponent(suffix[1:]) is not None:
        # Current API servers refuse an exponent beyond +-(2**31 - 1); older
        # ones truncated it to 32 bits (e4294967297 read as e1). Refusing it
        # is right for both.
        binary, exponent = False, _exponent(suffix[1:])
    else:
        raise _refuse(text)

    # The fast path: a value that fits an int64 at nano precision or coarser.
    # Its limits decide where the slow path (and its own errors) take over.
    if binary:
        precision = 15 - len(num) - exponent * 3 // 10 - 1 if not frac else -1
        if precision >= 0:
            return _signed(negative, Decimal(int(num) << exponent))
    else:
        precision = 18 - (len(num) + len(frac))
        scale = _int32(exponent - len(frac))
        if precision >= 0 and scale >= -9:
            return _signed(negative, Decimal((0, tuple(int(d) for d in (num + frac).lstrip("0") or "0"), scale)))

    # The slow path reads the number as written (sign, digits, point) and
    # needs at least one digit in it: ".Pi" and "e-10" are refused here.
    digits = (whole + frac).lstrip("0") or ("0" if (whole + frac) else "")
    if not digits:
        raise _refuse(text)
    unscaled = tuple(int(d) for d in digits)
    with localcontext() as ctx:
        ctx.prec = len(digits) + 64
        ctx.Emax, ctx.Emin = MAX_EMAX, MIN_EMIN
        if binary:
            amount = Decimal((0, unscaled, -len(frac))) * (2**exponent)
        else:
            amount = Decimal((0, unscaled, -_int32(len(frac) + _int32(-exponent))))
        if amount and amount.as_tuple().exponent < -9:
            # Anything finer than a nano rounds up, away from zero.
            amount = amount.quantize(_NANO, rounding=ROUND_UP)
        if binary and amount > _MAX_INT64:
            amount = Decimal(_MAX_INT64)
    return _signed(negative, amount)


def _signed(negative: bool, amount: Decimal) -> Decimal:
    return amount.copy_negate() if negative and amount else amount  # copy_negate: no context, no overflow


# Resources a namespace quota may set, with the largest value we accept for
# each: a guard against typos such as "1000000Gi", not a capacity model.
QUOTA_RESOURCES: dict[str, Decimal] = {
    "requests.cpu": parse("1000"),
    "limits.cpu": parse("1000"),
    "requests.memory": parse("4Ti"),
    "limits.memory": parse("4Ti"),
    "requests.storage": parse("100Ti"),
    "persistentvolumeclaims": parse("1000"),
    "pods": parse("10000"),
    "services": parse("1000"),
}
COUNT_RESOURCES = {"persistentvolumeclaims", "pods", "services"}
# limits.X must be >= requests.X
PAIRS = (("requests.cpu", "limits.cpu"), ("requests.memory", "limits.memory"))


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
        exponent = _WRITTEN_EXPONENT.search(raw) if isinstance(raw, str) else None
        if exponent and not -9 <= _exponent(exponent[0][1:]) <= 18:
            # Valid syntax, but the API server rounds such numbers with
            # arbitrary-precision arithmetic sized by the exponent.
            errors.setdefault(resource, []).append("use an exponent from e-9 to e18, or a unit instead (e.g. 1e3, 500m, 2Gi)")
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


def amount_errors(values, allowed) -> list[str]:
    """Problems with a resource -> positive quantity map (budgets, capacities, container defaults), as "resource: message"."""
    if not isinstance(values, dict):
        example = next(iter(allowed), "cpu")
        return [f'must be an object of resource name to quantity, e.g. {{"{example}": "8"}}']
    problems = []
    for resource, raw in values.items():
        if resource not in allowed:
            problems.append(f"{resource}: unknown resource; allowed: {', '.join(allowed)}")
            continue
        try:
            if parse(raw) <= 0:
                problems.append(f"{resource}: must be greater than zero")
        except (TypeError, ValueError) as exc:
            problems.append(f"{resource}: {exc}")
    return problems
