"""Label selector parsing and matching (kubesim.labelselectors, a port of apimachinery's labels parser)."""

from __future__ import annotations

import pytest

from kubesim import labelselectors

LABELS = {"tier": "web", "env": "dev", "n": "5", "empty": ""}


@pytest.mark.parametrize("selector,expected", [
    ("", True),
    ("tier=web", True), ("tier==web", True), ("tier=db", False), ("tier!=db", True), ("missing!=x", True),
    ("tier in (web,db)", True), ("tier notin (web)", False), ("missing notin (x)", True), ("tier in (db)", False),
    ("env", True), ("!env", False), ("!missing", True), ("missing", False),
    ("n>4", True), ("n>5", False), ("n<6", True), ("tier>1", False), ("missing<9", False),
    ("empty=", True), ("empty in ()", True), ("tier in (,web)", True),
    ("in=web", False), ("in", False),  # keywords are identifiers where a key is expected
    ("tier = web , env in ( dev )", True),
])
def test_matching(selector, expected):
    assert labelselectors.parse(selector)(LABELS) is expected


@pytest.mark.parametrize("selector", ["a===b", "a=b=c", "a b", "a in (b", "a in b", "!a=b", "a=(b)", "a>", "a>1x", "a=b c", "(", "a,,b"])
def test_rejected_like_the_real_parser(selector):
    with pytest.raises(labelselectors.SelectorError):
        labelselectors.parse(selector)


def test_multiple_value_errors_are_aggregated():
    with pytest.raises(labelselectors.SelectorError) as exc:
        labelselectors.parse("a>-x-")
    assert str(exc.value) == (
        "unable to parse requirement: [values[0]: Invalid value: \"-x-\": for 'Gt', 'Lt' operators, the value must be an integer, "
        "values[0]: Invalid value: \"-x-\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
        "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]"
    )
