"""Field-by-field differences between an audit event's ``before`` and ``after``.

Events store what changed as two JSON snapshots (either may be absent: a
creation has no before, a deletion no after). The audit page shows them as
rows of *field, before, after*, nested objects flattened to dotted paths
(``budget.requests.cpu``), so a reviewer reads what changed instead of
comparing two dumps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None  # None: the field did not exist before
    after: str | None  # None: the field does not exist after

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed" if self.before != self.after else "same"


def _flatten(value, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves; an empty object is a leaf."""
    if isinstance(value, dict) and value:
        flat: dict[str, object] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "value": value}


def _text(value) -> str:
    if isinstance(value, str):
        return value or '""'  # an emptied field reads as empty, not as missing
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def field_changes(before, after) -> list[FieldChange]:
    """The rows of an event's diff, in the order the fields were written; unchanged fields left out.

    A snapshot without a counterpart (creation, deletion) lists all its fields.
    """
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    # An empty object that gains (or loses) fields is told by those fields, not by a "{}" row.
    for this, other in ((old, new), (new, old)):
        for path in [p for p, v in this.items() if v == {} and any(o.startswith(p + ".") for o in other)]:
            del this[path]
    rows = []
    for field in list(old) + [f for f in new if f not in old]:
        was, now = old.get(field, MISSING), new.get(field, MISSING)
        if was is not MISSING and now is not MISSING and was == now:
            continue
        rows.append(FieldChange(field, None if was is MISSING else _text(was), None if now is MISSING else _text(now)))
    return rows
