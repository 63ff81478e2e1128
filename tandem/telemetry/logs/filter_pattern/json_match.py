"""JSON filter patterns: ``{ $.a.b[0].c = "x" && ($.n > 5 || $.flag IS TRUE) }``.

The message is decoded once; each condition resolves its selector and tests the value.
Rules (after CloudWatch): a selector that lands on an object or array never matches, not
even with ``!=``; numbers compare only with JSON numbers and strings only with JSON
strings (a bare ``true``, ``false`` or ``null`` is the string; booleans and null are tested
with ``IS TRUE``, ``IS FALSE``, ``IS NULL``); ``!=`` needs the field to exist; ``NOT EXISTS``
is the way to test absence; a message that is not a JSON object or array matches no JSON
pattern. ``$.*`` and ``[*]`` select every member or element; the condition holds when it
holds for any of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tandem.telemetry.logs.filter_pattern.comparison import read_comparison
from tandem.telemetry.logs.filter_pattern.scanner import Scanner

DocTest = Callable[[Any], bool]
_MISSING = object()
_ANY = object()  # the wildcard step; other steps are a str key or an int index
_KEY_EXTRA = frozenset("-@")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def parse_json_pattern(scanner: Scanner) -> Callable[[str], bool]:
    """Read ``{ ... }`` at the cursor (and nothing after it); returns a message predicate."""
    opening = scanner.pos
    scanner.pos += 1
    test = _parse_or(scanner)
    scanner.skip_spaces()
    if not scanner.take("}"):
        if scanner.at_end():
            raise scanner.error("unclosed '{': no matching '}'", opening)
        raise scanner.error(f"expected &&, || or '}}', found {scanner.peek()!r}")
    scanner.skip_spaces()
    if not scanner.at_end():
        raise scanner.error("unexpected text after the closing '}'")

    def predicate(message: str) -> bool:
        first = message[:1]
        if first != "{" and first != "[":
            if not first.isspace() or message.lstrip()[:1] not in ("{", "["):
                return False
        try:
            doc = _decode(message)
        except (ValueError, RecursionError):
            return False
        return test(doc)

    return predicate


def _parse_or(scanner: Scanner) -> DocTest:
    tests = [_parse_and(scanner)]
    while True:
        scanner.skip_spaces()
        if not scanner.take("||"):
            break
        tests.append(_parse_and(scanner))
    if len(tests) == 1:
        return tests[0]
    return lambda doc: any(test(doc) for test in tests)


def _parse_and(scanner: Scanner) -> DocTest:
    tests = [_parse_operand(scanner)]
    while True:
        scanner.skip_spaces()
        if not scanner.take("&&"):
            break
        tests.append(_parse_operand(scanner))
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


def _parse_operand(scanner: Scanner) -> DocTest:
    scanner.skip_spaces()
    ch = scanner.peek()
    if ch == "(":
        opening = scanner.pos
        scanner.enter(opening)
        scanner.pos += 1
        test = _parse_or(scanner)
        scanner.skip_spaces()
        if not scanner.take(")"):
            if scanner.at_end():
                raise scanner.error("unclosed '(': no matching ')'", opening)
            raise scanner.error(f"expected &&, || or ')', found {scanner.peek()!r}")
        scanner.leave()
        return test
    if ch == "$":
        test = _parse_condition(scanner)
        scanner.skip_spaces()
        if scanner.peek() in ("&", "|") and scanner.peek(1) != scanner.peek():
            raise scanner.error(f"use {scanner.peek() * 2} to join conditions")
        return test
    shown = ch or "end of pattern"
    raise scanner.error(f"expected a selector such as $.field or '(', found {shown!r}")


def _parse_condition(scanner: Scanner) -> DocTest:
    steps = _parse_selector(scanner)
    scanner.skip_spaces()
    if scanner.peek().isalpha():
        value_test = _parse_keyword(scanner)
    else:
        value_test = read_comparison(scanner).on_json
    if value_test is None:  # NOT EXISTS
        if _ANY in steps:
            select_all = _selector_all(steps)
            return lambda doc: not select_all(doc)
        select = _selector_one(steps)
        return lambda doc: select(doc) is _MISSING
    if _ANY in steps:
        select_all = _selector_all(steps)
        return lambda doc: any(value_test(v) for v in select_all(doc))
    select = _selector_one(steps)
    return lambda doc: value_test(select(doc))


def _parse_keyword(scanner: Scanner) -> DocTest | None:
    """``IS NULL | IS TRUE | IS FALSE | NOT EXISTS``; None stands for NOT EXISTS."""
    first_at = scanner.pos
    first = scanner.read_while().upper()
    scanner.skip_spaces()
    second_at = scanner.pos
    second = scanner.read_while().upper()
    if first == "IS":
        if second == "NULL":
            return lambda v: v is None
        if second == "TRUE":
            return lambda v: v is True
        if second == "FALSE":
            return lambda v: v is False
        raise scanner.error("expected NULL, TRUE or FALSE after IS", second_at)
    if first == "NOT":
        if second == "EXISTS":
            return None
        raise scanner.error("expected EXISTS after NOT", second_at)
    raise scanner.error(
        "expected an operator (= != < > <= >=), IS or NOT EXISTS after the selector", first_at
    )


def _parse_selector(scanner: Scanner) -> list[Any]:
    start = scanner.pos
    scanner.pos += 1  # '$'
    steps: list[Any] = []
    while True:
        if scanner.take("."):
            if scanner.take("*"):
                steps.append(_ANY)
                continue
            name = scanner.read_while(_KEY_EXTRA)
            if not name:
                raise scanner.error("expected a field name after '.' in the selector")
            steps.append(name)
        elif scanner.peek() == "[":
            bracket = scanner.pos
            scanner.pos += 1
            if scanner.take("*"):
                steps.append(_ANY)
            else:
                digits_at = scanner.pos
                digits = scanner.read_while()
                if not digits.isascii() or not digits.isdigit():
                    raise scanner.error("expected an array index or * inside [ ]", digits_at)
                if len(digits) > 9:  # also keeps int() under Python's digit limit
                    raise scanner.error("array index too large", digits_at)
                steps.append(int(digits))
            if not scanner.take("]"):
                if scanner.at_end():
                    raise scanner.error("unclosed '[' in the selector", bracket)
                raise scanner.error("expected ']' after the array index")
        else:
            break
    if not steps:
        raise scanner.error("a selector names a field: $.name or $[0]", start)
    return steps


def _selector_one(steps: list[Any]) -> Callable[[Any], Any]:
    """Resolve a wildcard-free selector to one value, or ``_MISSING``."""
    path = tuple(steps)

    def select(doc: Any) -> Any:
        value = doc
        for step in path:
            if type(step) is str:
                if type(value) is not dict:
                    return _MISSING
                value = value.get(step, _MISSING)
                if value is _MISSING:
                    return _MISSING
            else:
                if type(value) is not list or step >= len(value):
                    return _MISSING
                value = value[step]
        return value

    return select


def _selector_all(steps: list[Any]) -> Callable[[Any], list[Any]]:
    """Resolve a selector with ``*`` steps to every value it reaches."""
    path = tuple(steps)

    def select_all(doc: Any) -> list[Any]:
        current = [doc]
        for step in path:
            following: list[Any] = []
            for value in current:
                if step is _ANY:
                    if type(value) is dict:
                        following.extend(value.values())
                    elif type(value) is list:
                        following.extend(value)
                elif type(step) is str:
                    if type(value) is dict and step in value:
                        following.append(value[step])
                elif type(value) is list and step < len(value):
                    following.append(value[step])
            current = following
        return current

    return select_all
