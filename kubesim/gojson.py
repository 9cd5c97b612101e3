"""Go ``encoding/json`` error texts for request bodies kube-apiserver cannot parse.

kube-apiserver reads ``apiVersion``/``kind`` with Go's ``json.Unmarshal``
(``runtime/serializer/json/meta.go``), which first runs its syntax scanner
over the whole body. Its errors (``unexpected end of JSON input``,
``invalid character '}' looking for beginning of value``, ...) reach clients
verbatim, and kubectl prints them. Python's ``json`` module words the same
failures differently, so kubesim parses with Python (fast, C) and, only when
that fails, re-runs this port of Go's scanner (``encoding/json/scanner.go``)
to get the message Go would give. The port works on bytes, like Go.
"""

from __future__ import annotations

_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
MAX_DEPTH = 10000  # encoding/json's maxNestingDepth

# What a struct field's type is called in Go's UnmarshalTypeError for each JSON value kind.
_VALUE_KIND = {list: "array", dict: "object", str: "string", bool: "bool", int: "number", float: "number"}
# reflect.Type.String() of the anonymous struct meta.go unmarshals apiVersion/kind into.
_FIND_KIND_TYPE = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'


def quote_char(c: int) -> str:
    """Go's ``quoteChar``: a byte as it appears in "invalid character ..." messages."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    ch = chr(c)  # Go's string(c) of a byte is the rune U+00XX
    if ch == "\\":
        return "'\\\\'"
    if ch.isprintable():
        return f"'{ch}'"
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    if ch in short:
        return f"'{short[ch]}'"
    return f"'\\x{c:02x}'" if c < 0x80 else f"'\\u{c:04x}'"


class _Scanner:
    """Go's JSON scanner state machine; ``error`` holds Go's message once a byte is rejected."""

    # Parse states of the container stack (scanner.go parseObjectKey/parseObjectValue/parseArrayValue).
    OBJ_KEY, OBJ_VALUE, ARR_VALUE = range(3)

    def __init__(self):
        self.step = self.begin_value
        self.stack: list[int] = []
        self.end_top = False
        self.error: str | None = None

    def fail(self, c: int, context: str) -> None:
        self.step = self.stop
        self.error = f"invalid character {quote_char(c)} {context}"

    def stop(self, c: int) -> None:
        pass

    def push(self, state: int) -> None:
        self.stack.append(state)
        if len(self.stack) > MAX_DEPTH:
            self.step = self.stop
            self.error = "exceeded max depth"

    def pop(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.step = self.end_top_state
            self.end_top = True
        else:
            self.step = self.end_value

    # ---- values
    def begin_value_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("]"):
            return self.end_value(c)
        return self.begin_value(c)

    def begin_value(self, c: int) -> None:
        if c in _SPACE:
            return
        ch = chr(c)
        if ch == "{":
            self.step = self.begin_string_or_empty
            return self.push(self.OBJ_KEY)
        if ch == "[":
            self.step = self.begin_value_or_empty
            return self.push(self.ARR_VALUE)
        if ch == '"':
            self.step = self.in_string
        elif ch == "-":
            self.step = self.neg
        elif ch == "0":
            self.step = self.zero
        elif ch in "123456789":
            self.step = self.one
        elif ch == "t":
            self.step = self._literal("true", 1)
        elif ch == "f":
            self.step = self._literal("false", 1)
        elif ch == "n":
            self.step = self._literal("null", 1)
        else:
            self.fail(c, "looking for beginning of value")

    def begin_string_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("}"):
            self.stack[-1] = self.OBJ_VALUE
            return self.end_value(c)
        return self.begin_string(c)

    def begin_string(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord('"'):
            self.step = self.in_string
            return
        self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> None:
        if not self.stack:
            self.step = self.end_top_state
            self.end_top = True
            return self.end_top_state(c)
        if c in _SPACE:
            self.step = self.end_value
            return
        state = self.stack[-1]
        if state == self.OBJ_KEY:
            if c == ord(":"):
                self.stack[-1] = self.OBJ_VALUE
                self.step = self.begin_value
                return
            return self.fail(c, "after object key")
        if state == self.OBJ_VALUE:
            if c == ord(","):
                self.stack[-1] = self.OBJ_KEY
                self.step = self.begin_string
                return
            if c == ord("}"):
                return self.pop()
            return self.fail(c, "after object key:value pair")
        if c == ord(","):
            self.step = self.begin_value
            return
        if c == ord("]"):
            return self.pop()
        return self.fail(c, "after array element")

    def end_top_state(self, c: int) -> None:
        if c not in _SPACE:
            self.fail(c, "after top-level value")

    # ---- strings
    def in_string(self, c: int) -> None:
        if c == ord('"'):
            self.step = self.end_value
        elif c == ord("\\"):
            self.step = self.in_string_esc
        elif c < 0x20:
            self.fail(c, "in string literal")

    def in_string_esc(self, c: int) -> None:
        if chr(c) in 'bfnrt\\/"':
            self.step = self.in_string
        elif c == ord("u"):
            self.step = self._hex_escape(4)
        else:
            self.fail(c, "in string escape code")

    def _hex_escape(self, remaining: int):
        def step(c: int) -> None:
            if c not in _HEX:
                return self.fail(c, "in \\u hexadecimal character escape")
            self.step = self.in_string if remaining == 1 else self._hex_escape(remaining - 1)
        return step

    # ---- numbers
    def neg(self, c: int) -> None:
        if c == ord("0"):
            self.step = self.zero
        elif chr(c) in "123456789":
            self.step = self.one
        else:
            self.fail(c, "in numeric literal")

    def one(self, c: int) -> None:
        if c in _DIGITS:
            return
        self.zero(c)

    def zero(self, c: int) -> None:
        if c == ord("."):
            self.step = self.dot
        elif c in b"eE":
            self.step = self.exp
        else:
            self.end_value(c)

    def dot(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.dot0
        else:
            self.fail(c, "after decimal point in numeric literal")

    def dot0(self, c: int) -> None:
        if c in _DIGITS:
            return
        if c in b"eE":
            self.step = self.exp
        else:
            self.end_value(c)

    def exp(self, c: int) -> None:
        if c in b"+-":
            self.step = self.exp_sign
            return
        self.exp_sign(c)

    def exp_sign(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.exp0
        else:
            self.fail(c, "in exponent of numeric literal")

    def exp0(self, c: int) -> None:
        if c not in _DIGITS:
            self.end_value(c)

    # ---- literals
    def _literal(self, word: str, index: int):
        def step(c: int) -> None:
            if c != ord(word[index]):
                return self.fail(c, f"in literal {word} (expecting {quote_char(ord(word[index]))})")
            self.step = self.end_value if index == len(word) - 1 else self._literal(word, index + 1)
        return step


def syntax_error(data: bytes) -> str | None:
    """Go's ``json.Unmarshal`` syntax error for ``data`` (None if Go's scanner accepts it)."""
    scanner = _Scanner()
    for c in data:
        scanner.step(c)
        if scanner.error:
            return scanner.error
    # scanner.eof(): a value may still be open (a number needs a delimiter to end).
    if scanner.end_top:
        return None
    scanner.step(ord(" "))
    if scanner.error:
        return scanner.error
    if scanner.end_top:
        return None
    return "unexpected end of JSON input"


def type_error(data) -> str | None:
    """The error Go's Unmarshal into meta.go's apiVersion/kind struct gives for parsed ``data``, if any.

    ``null`` decodes into the struct as a no-op; other non-objects, and an
    ``apiVersion``/``kind`` that is not a string, are type errors.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        return f"json: cannot unmarshal {_VALUE_KIND.get(type(data), 'value')} into Go value of type {_FIND_KIND_TYPE}"
    for key in ("apiVersion", "kind"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            return f"json: cannot unmarshal {_VALUE_KIND.get(type(value), 'value')} into Go struct field .{key} of type string"
    return None


def summarize(data: bytes, max_length: int = 30) -> str:
    """apiserver's ``summarizeData``: the start of a body for "the object provided is unrecognized" errors."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        text = data[:max_length].decode("utf-8", "replace")
        return text + " ..." if len(data) > max_length else text
    return data[:max_length].hex() + (" ..." if len(data) > max_length else "")
