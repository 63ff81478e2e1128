"""The metric math parser and evaluator, pure."""

from __future__ import annotations

import pytest

from tandem.telemetry.metrics.expression import (
    ExpressionError,
    evaluate,
    parse_expression,
    references,
)

SERIES = {"m1": {0.0: 1.0, 60.0: 2.0}, "m2": {60.0: 10.0, 120.0: 20.0}}


def run(text: str):
    node = parse_expression(text, "e1")
    return evaluate(node, SERIES.__getitem__, lambda: list(SERIES.values()), text, "e1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),
        ("8 / 4 / 2", 1.0),
        ("-2 * -3", 6.0),
        ("1.5e2 + .5", 150.5),
        ("m1 * 2", {0.0: 2.0, 60.0: 4.0}),
        ("m1 + m2", {60.0: 12.0}),
        ("SUM([m1, m2])", {0.0: 1.0, 60.0: 12.0, 120.0: 20.0}),
        ("SUM(METRICS())", {0.0: 1.0, 60.0: 12.0, 120.0: 20.0}),
        ("AVG([m1,m2])", {0.0: 1.0, 60.0: 6.0, 120.0: 20.0}),
        ("MAX(m2)", 20.0),
        ("m2 - MIN(m2)", {60.0: 0.0, 120.0: 10.0}),
        ("-m1", {0.0: -1.0, 60.0: -2.0}),
        ("m1 / (m1 - 1)", {60.0: 2.0}),
    ],
)
def test_expressions_evaluate(text, expected) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "Empty expression", 0),
        ("m1 +", "Unexpected end of expression", 4),
        ("m1 + * 2", "Unexpected '*'", 5),
        ("(m1 + 2", "Expected ')' but found end of expression", 7),
        ("m1 2", "Unexpected '2'", 3),
        ("m1 $ 2", "Unexpected character '$'", 3),
        ("FOO(m1)", "Unknown function 'FOO'", 0),
        ("SUM(m1, m2)", "SUM takes exactly one argument", 0),
        ("METRICS(m1)", "METRICS() takes no arguments", 0),
        ("[m1, m2]", "An array is only allowed as a function argument", 0),
        ("SUM([m1, 2])", "Expected a metric id in the array", 9),
        ("m1 + m3", "Unknown metric id 'm3'", 5),
        ("METRICS() + 1", "Operator '+' cannot take an array", 10),
    ],
)
def test_errors_name_the_position(text, message, position) -> None:
    with pytest.raises(ExpressionError) as err:
        run(text)
    assert err.value.position == position
    assert err.value.message == f"Error in expression e1: {message} at position {position + 1}."


def test_references() -> None:
    assert references(parse_expression("SUM([m1, m2]) / m3 + MAX(METRICS())")) == {
        "m1",
        "m2",
        "m3",
        "METRICS()",
    }
