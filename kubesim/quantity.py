"""Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), exact.

Values are kept as :class:`fractions.Fraction` so sums and comparisons are
exact ("100m" + "900m" == "1"), and printed in the canonical form the real
``Quantity.String()`` gives, because quota messages and ``status.used`` show
them: ``1500m``, ``2``, ``1k``, ``512Mi``, ``1536Mi``, ``1e3`` for exponents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|([eE][+-]?[0-9]+))?$")
_NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    """Not a quantity; the message is the real parser's."""


@dataclass(frozen=True)
class Quantity:
    """An exact value plus the format it was written in (which decides how it prints)."""

    value: Fraction
    format: str = DECIMAL_SI

    def __add__(self, other: "Quantity") -> "Quantity":
        # Quantity.Add keeps the receiver's format unless the receiver is zero.
        fmt = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, fmt)

    def __sub__(self, other: "Quantity") -> "Quantity":
        return Quantity(self.value - other.value, self.format)

    def __lt__(self, other: "Quantity") -> bool:
        return self.value < other.value

    def __le__(self, other: "Quantity") -> bool:
        return self.value <= other.value

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def is_zero(self) -> bool:
        return self.value == 0


ZERO = Quantity(Fraction(0), DECIMAL_SI)


def parse(text) -> Quantity:
    """Parse ``"500m"``, ``"1Gi"``, ``"2"``, ``"1e3"`` (ints and floats from JSON too)."""
    if isinstance(text, bool):
        raise QuantityError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    if isinstance(text, int):
        return Quantity(Fraction(text), DECIMAL_SI)
    if isinstance(text, float):
        text = repr(text)
    m = _RE.match(str(text).strip())
    if not m:
        raise QuantityError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, suffix, exponent = m.group(1), m.group(2), m.group(3)
    value = Fraction(number)
    if exponent:
        value *= Fraction(10) ** int(exponent[1:])
        fmt = DECIMAL_EXPONENT
    elif suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
        fmt = BINARY_SI
    else:
        value *= Fraction(10) ** _DECIMAL[suffix or ""]
        fmt = DECIMAL_SI
    # The real Quantity keeps at most nano precision and rounds up.
    if value.denominator != 1 and (value / _NANO).denominator != 1:
        nanos = -((-value) // _NANO)
        value = nanos * _NANO
    return Quantity(value, fmt)


def format_quantity(value: Fraction, fmt: str = DECIMAL_SI) -> str:
    """Quantity.String(): canonical mantissa and suffix."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mag = -value if value < 0 else value
    if fmt == BINARY_SI:
        if mag < 1024 or mag.denominator != 1:
            fmt = DECIMAL_SI  # small or fractional binary values print as DecimalSI
        else:
            n, exp = int(mag), 0
            while n % 1024 == 0 and exp < 6:
                n //= 1024
                exp += 1
            suffix = {0: ""} | {v: k for k, v in _BINARY.items()}
            return f"{sign}{n}{suffix[exp]}"
    # Decimal: the largest exponent (multiple of 3) that leaves an integer mantissa.
    exp = -9
    mantissa = mag * Fraction(10) ** 9
    mantissa = Fraction(-((-mantissa.numerator) // mantissa.denominator))  # round up to nano
    n = int(mantissa)
    while n % 1000 == 0 and exp < 18 and n != 0:
        n //= 1000
        exp += 3
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{n}" + (f"e{exp}" if exp else "")
    return f"{sign}{n}{_DECIMAL_SUFFIX[exp]}"


def canonical(text) -> str:
    """The canonical spelling of a quantity string (``"1000m"`` -> ``"1"``)."""
    return str(parse(text))


def resource_list(items: dict | None) -> dict[str, Quantity]:
    """A ResourceList (name -> quantity string) parsed; unparsable entries are skipped."""
    out = {}
    for key, value in (items or {}).items():
        try:
            out[key] = parse(value)
        except QuantityError:
            continue
    return out


def add_lists(a: dict[str, Quantity], b: dict[str, Quantity]) -> dict[str, Quantity]:
    """quota.Add: key-wise sum."""
    out = dict(a)
    for key, value in b.items():
        out[key] = out[key] + value if key in out else value
    return out


def print_list(items: dict[str, Quantity]) -> str:
    """The quota controller's prettyPrint: ``k=v,k2=v2`` sorted by key."""
    return ",".join(f"{key}={items[key]}" for key in sorted(items))
