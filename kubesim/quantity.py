"""Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), exact.

Values are kept as :class:`fractions.Fraction` so sums and comparisons are
exact ("100m" + "900m" == "1"), and printed in the canonical form the real
``Quantity.String()`` gives, because quota messages and ``status.used`` show
them: ``1500m``, ``2``, ``1k``, ``512Mi``, ``1536Mi``, ``1e3`` for exponents.

Parsing is a step-by-step port of ``parseQuantityString`` and
``ParseQuantity``, quirks included (``"+"``, ``"."`` and ``"Ki"`` are zero,
``".Pi"`` and ``"e-10"`` are refused, the scale is an overflowing int32), so
what kubesim accepts is what an API server accepts. ``from_json`` adds
``UnmarshalJSON``'s whitespace trimming.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, ROUND_UP, Decimal, localcontext
from fractions import Fraction

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_MAX_INT64 = 2**63 - 1
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
# unicode.IsSpace: what Quantity.UnmarshalJSON trims (strings.TrimSpace) before parsing.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

ERR_FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"


class QuantityError(ValueError):
    """Not a quantity; the message is the real parser's."""


@dataclass(frozen=True)
class Quantity:
    """An exact value plus the format it was written in (which decides how it prints)."""

    value: Fraction
    format: str = DECIMAL_SI

    def __add__(self, other: Quantity) -> Quantity:
        # Quantity.Add keeps the receiver's format unless the receiver is zero.
        fmt = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def is_zero(self) -> bool:
        return self.value == 0


ZERO = Quantity(Fraction(0), DECIMAL_SI)


def _int32(value: int) -> int:
    """Go int32 conversion/overflow: wraps modulo 2**32."""
    return (value + 2**31) % 2**32 - 2**31


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64); None where Go returns an error."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or any(ch not in _DIGITS for ch in body):
        return None
    significant = body.lstrip("0")
    if len(significant) > 19:
        return None  # out of range; spares int() a huge string
    value = int(significant or "0") * (-1 if text.startswith("-") else 1)
    return value if -(2**63) <= value <= _MAX_INT64 else None


def _scan(s: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString, step by step: (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(s)
    if pos < end:
        if s[0] == "-":
            positive, pos = False, pos + 1
        elif s[0] == "+":
            pos += 1
    i = pos  # strip leading zeros
    while True:
        if i >= end:
            return positive, "0", "0", "", ""
        if s[i] != "0":
            break
        pos, i = pos + 1, i + 1
    i = pos  # the numerator
    while True:
        if i >= end:
            return positive, s[0:end], s[pos:end], "", ""
        if s[i] not in _DIGITS:
            num, pos = s[pos:i], i
            break
        i += 1
    num = num or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        i = pos
        while True:
            if i >= end:
                return positive, s[0:end], num, s[pos:end], ""
            if s[i] not in _DIGITS:
                denom, pos = s[pos:i], i
                break
            i += 1
    value = s[0:pos]
    suffix_start = i = pos
    while True:
        if i >= end:
            return positive, value, num, denom, s[suffix_start:end]
        if s[i] not in _SUFFIX_CHARS:
            pos = i
            break
        i += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    i = pos
    while True:
        if i >= end:
            return positive, value, num, denom, s[suffix_start:end]
        if s[i] not in _DIGITS:
            break
        i += 1
    raise QuantityError(ERR_FORMAT_WRONG)


def _interpret(suffix: str) -> tuple[int, int, str]:
    """quantitySuffixer.interpret: (base, exponent, format)."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], DECIMAL_SI
    if suffix in _BINARY:
        return 2, 10 * _BINARY[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        parsed = _parse_int64(suffix[1:])
        # Read at 64 bits, kept in an int32 scale that is later negated: only
        # [-MaxInt32, MaxInt32] is accepted (older releases truncated instead).
        if parsed is not None and -(2**31 - 1) <= parsed <= 2**31 - 1:
            return 10, parsed, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def decode(s: str) -> tuple[Decimal, str]:
    """ParseQuantity: the exact value as a Decimal (cheap even for e2147483647) and its format.

    Raises QuantityError with the real parser's message.
    """
    if len(s) == 0:
        raise QuantityError(ERR_FORMAT_WRONG)
    if s == "0":
        return Decimal(0), DECIMAL_SI
    positive, value, num, denom, suf = _scan(s)
    base, exponent, fmt = _interpret(suf)
    mantissa = 1
    if fmt in (DECIMAL_EXPONENT, DECIMAL_SI):
        scale = exponent
        precision = 18 - (len(num) + len(denom))  # maxInt64Factors
    else:
        scale = 0
        if exponent >= 0 and len(denom) == 0:
            mantissa = 1 << exponent
            precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        else:
            precision = -1
    if precision >= 0:
        scale = _int32(scale - len(denom))
        if scale >= -9:
            shifted = _parse_int64(num + denom)
            if shifted is None:
                raise QuantityError(ERR_NUMERIC)
            result = shifted * mantissa
            if -(2**63) <= result <= _MAX_INT64:  # int64Multiply
                sign = 0 if positive or result == 0 else 1
                return Decimal((sign, tuple(int(d) for d in str(result)), scale)), fmt
    # The inf.Dec path: SetString(value) wants at least one digit.
    if not any(ch in _DIGITS for ch in value):
        raise QuantityError(ERR_NUMERIC)
    body = value.lstrip("+-")
    whole, _, frac = body.partition(".")
    digits = tuple(int(d) for d in (whole + frac).lstrip("0") or "0")
    with localcontext() as ctx:
        ctx.prec = len(digits) + 64
        ctx.Emax, ctx.Emin = MAX_EMAX, MIN_EMIN
        if base == 10:
            amount = Decimal((0, digits, -_int32(len(frac) + _int32(-exponent))))
        else:
            amount = Decimal((0, digits, -len(frac))) * (2**exponent)
        if amount and amount.as_tuple().exponent < -9:
            amount = amount.quantize(Decimal("1e-9"), rounding=ROUND_UP)  # inf.RoundUp: away from zero
        if fmt == BINARY_SI and amount > _MAX_INT64:
            amount = Decimal(_MAX_INT64)
        if fmt == BINARY_SI and 0 < amount < 1:
            fmt = DECIMAL_SI
    negative = value.startswith("-") and amount != 0
    return (amount.copy_negate() if negative else amount), fmt


def parse(text) -> Quantity:
    """ParseQuantity(text): ``"500m"``, ``"1Gi"``, ``"2"``, ``"1e3"``; ints and floats from JSON too.

    Strict, like ParseQuantity: no surrounding whitespace (see ``from_json``).
    """
    if isinstance(text, bool):
        raise QuantityError(ERR_FORMAT_WRONG)
    if isinstance(text, int):
        return Quantity(Fraction(text), DECIMAL_SI)
    if isinstance(text, float):
        text = repr(text)
    if not isinstance(text, str):
        raise QuantityError(ERR_FORMAT_WRONG)
    amount, fmt = decode(text)
    return Quantity(Fraction(amount), fmt)


def validate_json(value) -> None:
    """Raise QuantityError unless Quantity.UnmarshalJSON accepts ``value`` (no value computed)."""
    if isinstance(value, str):
        decode(value.strip(_GO_SPACE))
    else:
        parse(value)


def from_json(value) -> Quantity:
    """Quantity.UnmarshalJSON: a JSON string is trimmed of (Unicode) whitespace, then parsed."""
    if isinstance(value, str):
        value = value.strip(_GO_SPACE)
    return parse(value)


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
            out[key] = from_json(value)
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
