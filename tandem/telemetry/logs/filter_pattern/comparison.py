"""The right-hand side of a condition: ``= != < > <= >=`` against a number, a string with
``*`` wildcards at either end, or a ``%regex%``; shared by JSON and space-delimited patterns.

A comparison is compiled once into two predicates: one over a decoded JSON value (numbers
compare only with JSON numbers, strings only with JSON strings) and one over a
space-delimited field (always text; numeric conditions apply when the field reads as a
number).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tandem.telemetry.logs.filter_pattern.scanner import Scanner

# Signed, decimal and exponent forms: 200, -5, +1000, 1.5, .5, 10e-3. ASCII digits only.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
# Characters that end an unquoted value: they belong to the surrounding grammar.
_VALUE_END = frozenset(" \t\r\n,()[]{}&|\"=!<>%")
# What an unquoted string value may hold besides alphanumerics (IPs, paths, times, globs).
_BARE_EXTRA = frozenset("_.-:@/*")


def read_operator(scanner: Scanner) -> str:
    """Read one of ``= != < > <= >=`` at the cursor."""
    start = scanner.pos
    for op in ("!=", "<=", ">=", "=", "<", ">"):
        if scanner.take(op):
            if scanner.peek() in ("=", "<", ">", "!"):
                raise scanner.error(f"unknown operator {op + scanner.peek()!r}", start)
            return op
    shown = scanner.peek() or "end of pattern"
    raise scanner.error(f"expected an operator (= != < > <= >=), found {shown!r}", start)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``op value``, compiled into a JSON-value test and a field-text test."""

    op: str
    on_json: Callable[[Any], bool]
    on_field: Callable[[str], bool]
    # An exact substring any matching field contains (for prefilters), if one is known.
    literal: str | None


def read_comparison(scanner: Scanner) -> Comparison:
    """Read ``op value`` at the cursor (spaces allowed around the operator)."""
    scanner.skip_spaces()
    op = read_operator(scanner)
    scanner.skip_spaces()
    value_at = scanner.pos
    ch = scanner.peek()
    if ch == "%":
        if op not in ("=", "!="):
            raise scanner.error(f"a regex can only be compared with = or !=, not {op}", value_at)
        return _regex_comparison(op, scanner.read_regex())
    if ch == '"':
        text = scanner.read_quoted()
        if op not in ("=", "!="):
            raise scanner.error(f"{op} needs a number, not a string", value_at)
        return _string_comparison(op, text)
    text = _read_bare(scanner)
    if not text:
        shown = ch or "end of pattern"
        raise scanner.error(f"expected a value after {op}, found {shown!r}", value_at)
    if NUMBER.fullmatch(text) is not None:
        return _number_comparison(op, float(text))
    signed_digits = text[0] in "+-" and text[1:2] in tuple("0123456789.")
    if op not in ("=", "!="):
        if text[0] in "0123456789." or signed_digits:
            raise scanner.error(f"bad number {text!r}", value_at)
        raise scanner.error(f"{op} needs a number, not {text!r}", value_at)
    if signed_digits:
        # A sign promises a number (-5, +1e3); 4* or 123.123.* are string globs.
        raise scanner.error(f"bad number {text!r}", value_at)
    for offset, c in enumerate(text):
        if not (c.isalnum() or c in _BARE_EXTRA):
            raise scanner.error(
                f"character {c!r} must be inside a quoted value", value_at + offset
            )
    return _string_comparison(op, text)


def _read_bare(scanner: Scanner) -> str:
    text, start = scanner.text, scanner.pos
    pos = start
    while pos < len(text) and text[pos] not in _VALUE_END:
        pos += 1
    scanner.pos = pos
    return text[start:pos]


def _number_comparison(op: str, number: float) -> Comparison:
    compare = _NUMBER_OPS[op]

    def on_json(value: Any) -> bool:
        # bool is an int subclass; JSON true is not the number 1.
        if type(value) is int or type(value) is float:
            return compare(value, number)
        return False

    def on_field(field: str) -> bool:
        if NUMBER.fullmatch(field) is None:
            return False
        return compare(float(field), number)

    return Comparison(op, on_json, on_field, None)


def wildcard_matcher(value: str) -> tuple[Callable[[str], bool], str]:
    """A test for ``value`` with ``*`` meaning "anything" only as its first or last
    character (``Ev*ent`` is literal), and the literal part every match contains."""
    lead = value.startswith("*")
    trail = len(value) > int(lead) and value.endswith("*")
    core = value[int(lead) : len(value) - int(trail)]
    if lead and trail:
        return (lambda s: core in s), core
    if lead:
        return (lambda s: s.endswith(core)), core
    if trail:
        return (lambda s: s.startswith(core)), core
    return (lambda s: s == core), core


def _string_comparison(op: str, value: str) -> Comparison:
    test, core = wildcard_matcher(value)
    if op == "=":

        def on_json(v: Any) -> bool:
            return type(v) is str and test(v)

        return Comparison(op, on_json, test, core)

    def on_json_ne(v: Any) -> bool:
        return type(v) is str and not test(v)

    return Comparison(op, on_json_ne, lambda s: not test(s), None)


def _regex_comparison(op: str, pattern: re.Pattern[str]) -> Comparison:
    search = pattern.search
    if op == "=":
        return Comparison(op, lambda v: type(v) is str and search(v) is not None,
                          lambda s: search(s) is not None, None)
    return Comparison(op, lambda v: type(v) is str and search(v) is None,
                      lambda s: search(s) is None, None)
