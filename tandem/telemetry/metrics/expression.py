"""Metric math: a small recursive-descent parser and an evaluator over time series.

Grammar (whitespace ignored)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | ID | NAME "(" [arg ("," arg)*] ")" | "(" expr ")"
    arg     := expr | "[" ID ("," ID)* "]"

Functions: ``SUM``, ``AVG``, ``MIN``, ``MAX`` (over an array ``[m1, m2]`` or ``METRICS()``
they give a series, per timestamp over the union of timestamps; over one series,
a scalar) and ``METRICS()`` (every MetricStat query). Between two series the
arithmetic operators align on timestamps and keep those present in both; a
timestamp divided by zero has no value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import NoReturn

from tandem.errors import InvalidParameterValue

__all__ = ["ExpressionError", "parse_expression", "evaluate", "references", "Node"]

Series = dict[float, float]
Value = float | Series | list[Series]


class ExpressionError(InvalidParameterValue):
    """A metric math expression that does not parse or evaluate; ``position`` is 0-based."""

    def __init__(self, message: str, expression: str, position: int, query_id: str = "") -> None:
        where = f" {query_id}" if query_id else ""
        super().__init__(
            f"Error in expression{where}: {message} at position {position + 1}.",
            expression=expression,
            position=position,
        )
        self.expression = expression
        self.position = position


@dataclasses.dataclass(frozen=True)
class Number:
    value: float
    pos: int


@dataclasses.dataclass(frozen=True)
class Ref:
    id: str
    pos: int


@dataclasses.dataclass(frozen=True)
class Array:
    items: tuple[Ref, ...]
    pos: int


@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: int


@dataclasses.dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node
    pos: int


@dataclasses.dataclass(frozen=True)
class Neg:
    operand: Node
    pos: int


Node = Number | Ref | Array | Call | BinOp | Neg

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/(),\[\]]))"
)
_FUNCTIONS = {"SUM", "AVG", "MIN", "MAX", "METRICS"}


class _Parser:
    def __init__(self, text: str, query_id: str) -> None:
        self.text = text
        self.query_id = query_id
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].isspace():
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                while text[pos].isspace():
                    pos += 1
                self.fail(f"Unexpected character '{text[pos]}'", pos)
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.tokens.append(("end", "", len(text)))
        self.i = 0

    def fail(self, message: str, pos: int) -> NoReturn:
        raise ExpressionError(message, self.text, pos, self.query_id)

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        if value is not None and tok[1] != value:
            found = "end of expression" if tok[0] == "end" else f"'{tok[1]}'"
            self.fail(f"Expected '{value}' but found {found}", tok[2])
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            self.fail("Empty expression", 0)
        node = self.expr()
        kind, value, pos = self.peek()
        if kind != "end":
            self.fail(f"Unexpected '{value}'", pos)
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            _, op, pos = self.take()
            node = BinOp(op, node, self.term(), pos)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            _, op, pos = self.take()
            node = BinOp(op, node, self.unary(), pos)
        return node

    def unary(self) -> Node:
        kind, value, pos = self.peek()
        if kind == "op" and value == "-":
            self.take()
            return Neg(self.unary(), pos)
        return self.primary()

    def primary(self) -> Node:
        kind, value, pos = self.take()
        if kind == "num":
            return Number(float(value), pos)
        if kind == "name":
            if self.peek()[1] == "(" and self.peek()[0] == "op":
                return self.call(value, pos)
            return Ref(value, pos)
        if kind == "op" and value == "(":
            node = self.expr()
            self.take(")")
            return node
        if kind == "op" and value == "[":
            self.fail("An array is only allowed as a function argument", pos)
        self.fail("Unexpected end of expression" if kind == "end" else f"Unexpected '{value}'", pos)
        raise AssertionError  # unreachable: fail raises

    def call(self, name: str, pos: int) -> Node:
        if name not in _FUNCTIONS:
            self.fail(f"Unknown function '{name}'", pos)
        self.take("(")
        args: list[Node] = []
        if self.peek()[1] != ")":
            args.append(self.arg())
            while self.peek()[1] == ",":
                self.take()
                args.append(self.arg())
        self.take(")")
        if name == "METRICS" and args:
            self.fail("METRICS() takes no arguments", pos)
        if name != "METRICS" and len(args) != 1:
            self.fail(f"{name} takes exactly one argument", pos)
        return Call(name, tuple(args), pos)

    def arg(self) -> Node:
        kind, value, pos = self.peek()
        if not (kind == "op" and value == "["):
            return self.expr()
        self.take()
        items = []
        while True:
            k, v, p = self.take()
            if k != "name":
                self.fail("Expected a metric id in the array", p)
            items.append(Ref(v, p))
            if self.peek()[1] == "]":
                self.take()
                return Array(tuple(items), pos)
            self.take(",")


def parse_expression(text: str, query_id: str = "") -> Node:
    """Parse metric math; raises ExpressionError naming the position of the problem."""
    return _Parser(text, query_id).parse()


def references(node: Node) -> set[str]:
    """Ids an expression refers to (``METRICS()`` is reported as the id ``METRICS()``)."""
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Array):
        return {r.id for r in node.items}
    if isinstance(node, Call):
        refs = {"METRICS()"} if node.name == "METRICS" else set()
        for a in node.args:
            refs |= references(a)
        return refs
    if isinstance(node, BinOp):
        return references(node.left) | references(node.right)
    if isinstance(node, Neg):
        return references(node.operand)
    return set()


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}
_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda xs: sum(xs) / len(xs),
    "MIN": min,
    "MAX": max,
}


def evaluate(
    node: Node,
    lookup: Callable[[str], Series],
    metrics: Callable[[], list[Series]],
    text: str = "",
    query_id: str = "",
) -> float | Series:
    """Evaluate a parsed expression; ``lookup(id)`` gives a query's series (KeyError if none)."""

    def fail(message: str, pos: int) -> NoReturn:
        raise ExpressionError(message, text, pos, query_id)

    def ref(r: Ref) -> Series:
        try:
            return lookup(r.id)
        except KeyError:
            fail(f"Unknown metric id '{r.id}'", r.pos)
            raise

    def ev(n: Node) -> Value:
        if isinstance(n, Number):
            return n.value
        if isinstance(n, Ref):
            return ref(n)
        if isinstance(n, Array):
            return [ref(r) for r in n.items]
        if isinstance(n, Neg):
            v = ev(n.operand)
            if isinstance(v, list):
                fail("Cannot negate an array", n.pos)
            return -v if isinstance(v, float) else {t: -x for t, x in v.items()}
        if isinstance(n, Call):
            if n.name == "METRICS":
                return metrics()
            v = ev(n.args[0])
            reduce = _REDUCE[n.name]
            if isinstance(v, float):
                return v
            if isinstance(v, dict):
                return reduce(list(v.values())) if v else float("nan")
            per_time: dict[float, list[float]] = {}
            for s in v:
                for t, x in s.items():
                    per_time.setdefault(t, []).append(x)
            return {t: reduce(xs) for t, xs in sorted(per_time.items())}
        assert isinstance(n, BinOp)
        a, b = ev(n.left), ev(n.right)
        if isinstance(a, list) or isinstance(b, list):
            fail(f"Operator '{n.op}' cannot take an array", n.pos)
        op = _OPS[n.op]

        def apply(x: float, y: float) -> float | None:
            try:
                return op(x, y)
            except ZeroDivisionError:
                return None

        if isinstance(a, float):
            if isinstance(b, float):
                r = apply(a, b)
                return float("nan") if r is None else r
            pairs = ((t, a, y) for t, y in b.items())
        elif isinstance(b, float):
            pairs = ((t, x, b) for t, x in a.items())
        else:
            pairs = ((t, x, b[t]) for t, x in a.items() if t in b)
        out = {}
        for t, x, y in pairs:
            r = apply(x, y)
            if r is not None:
                out[t] = r
        return out

    result = ev(node)
    if isinstance(result, list):
        fail("An expression must return one time series or a number, not an array", 0)
    return result
