"""Label selector parsing: a port of k8s.io/apimachinery/pkg/labels/selector.go.

The real lexer and recursive-descent parser, so kubesim accepts and rejects
exactly what kube-apiserver does (``a===b`` is ``found '=', expected:
identifier``, ``a b`` is ``found 'b', expected: in, notin, =, ==, !=, gt,
lt``) with the same error texts, which reach clients verbatim as the message
of a 400 ``BadRequest``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import validation

# Tokens (labels.Token)
ERROR, EOS, CLOSED_PAR, COMMA, DOES_NOT_EXIST, DOUBLE_EQUALS, EQUALS, GREATER, IDENT, IN, LESS, NOT_EQUALS, NOT_IN, OPEN_PAR = range(14)

_STRING_TO_TOKEN = {
    ")": CLOSED_PAR, ",": COMMA, "!": DOES_NOT_EXIST, "==": DOUBLE_EQUALS, "=": EQUALS, ">": GREATER,
    "in": IN, "<": LESS, "!=": NOT_EQUALS, "notin": NOT_IN, "(": OPEN_PAR,
}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_OPERATOR_OF = {IN: "in", NOT_IN: "notin", EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", GREATER: "gt", LESS: "lt"}


class SelectorError(ValueError):
    """A selector the real parser rejects; ``str()`` is the apiserver's message."""


def _lex(text: str) -> list[tuple[int, str]]:
    """All tokens of ``text`` up to and including end-of-string (labels.Lexer)."""
    items: list[tuple[int, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            # Longest run of special symbols that is still a token ("!=" not "!", "==" then "=").
            buffer, last = "", None
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _STRING_TO_TOKEN:
                    last = (_STRING_TO_TOKEN[buffer], buffer)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            items.append(last if last is not None else (ERROR, f"error expected: keyword found '{buffer}'"))
            continue
        start = pos
        while pos < n and text[pos] not in _WHITESPACE and text[pos] not in _SPECIAL:
            pos += 1
        literal = text[start:pos]
        token = _STRING_TO_TOKEN.get(literal, IDENT)
        items.append((token if token in (IN, NOT_IN) else IDENT, literal))


def _field_error(path: str, value, detail: str) -> str:
    """field.Invalid(path, value, detail).Error() (string values Go-quoted)."""
    return f"{path}: Invalid value: {validation._go_quote(value)}: {detail}"


def _validate_key(key: str, path: str) -> str | None:
    errs = validation.is_qualified_name(key)
    return _field_error(path, key, "; ".join(errs)) if errs else None


class _Parser:
    def __init__(self, text: str):
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (IN, NOT_IN):
            tok = IDENT  # in the Values context the keywords are plain identifiers
        return tok, lit

    def consume(self, values: bool = True) -> tuple[int, str]:
        item = self.lookahead(values)
        self.pos += 1
        return item

    def parse(self) -> list[tuple[str, str, list[str]]]:
        requirements = []
        while True:
            tok, lit = self.lookahead()
            if tok in (IDENT, DOES_NOT_EXIST):
                try:
                    requirements.append(self.parse_requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume()
                if tok == EOS:
                    return requirements
                if tok == COMMA:
                    tok2, lit2 = self.lookahead()
                    if tok2 not in (IDENT, DOES_NOT_EXIST):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                    continue
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            if tok == EOS:
                return requirements
            raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> tuple[str, str, list[str]]:
        key, operator = self.parse_key_and_infer_operator()
        if operator in ("exists", "!"):
            return _new_requirement(key, operator, [])
        operator = self.parse_operator()
        values = self.parse_values() if operator in ("in", "notin") else self.parse_exact_value()
        return _new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self.consume()
        if tok == DOES_NOT_EXIST:
            operator = "!"
            tok, lit = self.consume()
        if tok != IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        err = _validate_key(lit, "<nil>")  # p.path is nil in apiserver's parse: field.Path prints "<nil>"
        if err:
            raise SelectorError(err)
        if self.lookahead()[0] in (EOS, COMMA) and operator != "!":
            operator = "exists"
        return lit, operator

    def parse_operator(self) -> str:
        tok, lit = self.consume(values=False)
        if tok in _OPERATOR_OF:
            return _OPERATOR_OF[tok]
        raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")

    def parse_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (IDENT, COMMA):
            values = self.parse_identifiers_list()
            if self.consume()[0] != CLOSED_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")  # sic: Go reports the earlier literal
            return values
        if tok == CLOSED_PAR:
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == IDENT:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == COMMA:
                    continue
                if tok2 == CLOSED_PAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == COMMA:
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 == CLOSED_PAR:
                    values.add("")
                    return values
                if tok2 == COMMA:
                    self.consume()
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (EOS, COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, op: str, values: list[str]) -> tuple[str, str, list[str]]:
    """labels.NewRequirement: the per-operator value checks, errors aggregated like utilerrors."""
    errs = []
    err = _validate_key(key, "key")
    if err:
        errs.append(err)
    go_list = "[]string{" + ", ".join(validation._go_quote(v) for v in values) + "}"
    if op in ("in", "notin") and not values:
        errs.append(f"values: Invalid value: {go_list}: for 'in', 'notin' operators, values set can't be empty")
    if op in ("=", "==", "!=") and len(values) != 1:
        errs.append(f"values: Invalid value: {go_list}: exact-match compatibility requires one single value")
    if op in ("gt", "lt"):
        if len(values) != 1:
            errs.append(f"values: Invalid value: {go_list}: for 'Gt', 'Lt' operators, exactly one value is required")
        for i, value in enumerate(values):
            if not _is_int64(value):
                errs.append(_field_error(f"values[{i}]", value, "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, value in enumerate(values):
        value_errs = validation.is_label_value(value)
        if value_errs:
            errs.append(_field_error(f"values[{i}]", value, "; ".join(value_errs)))
    if len(errs) == 1:
        raise SelectorError(errs[0])
    if errs:
        raise SelectorError("[" + ", ".join(errs) + "]")
    return key, op, values


def _is_int64(text: str) -> bool:
    """strconv.ParseInt(text, 10, 64) succeeds (optional sign, decimal digits, in range)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    return -(2 ** 63) <= int(text) < 2 ** 63


def parse(text: str) -> Callable[[dict | None], bool]:
    """Parse a label selector string into a predicate on a labels dict; raises :class:`SelectorError`."""
    requirements = _Parser(text).parse()

    def matches(labels: dict | None) -> bool:
        labels = labels or {}
        for key, op, values in requirements:
            present = key in labels
            current = labels.get(key)
            if op in ("=", "==", "in"):
                if not present or current not in values:
                    return False
            elif op in ("!=", "notin"):
                if present and current in values:
                    return False
            elif op == "exists":
                if not present:
                    return False
            elif op == "!":
                if present:
                    return False
            elif op in ("gt", "lt"):
                # Requirement.Matches: a missing or non-integer label never matches Gt/Lt.
                if not present or not _is_int64(current):
                    return False
                if (op == "gt" and not int(current) > int(values[0])) or (op == "lt" and not int(current) < int(values[0])):
                    return False
        return True

    # What an index can narrow a list to: the keys that must hold one of given values.
    matches.equality_terms = [(key, tuple(values)) for key, op, values in requirements if op in ("=", "==", "in")]
    return matches
