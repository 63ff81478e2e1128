"""The JSONPath subset SageMaker batch transform's DataProcessing filters use.

Supported: ``$`` (the whole record), ``$[i]`` (negative counts from the end), ``$[i,j,...]``,
``$[a:b]`` (either bound may be left out, negatives allowed), ``$.field``, ``$['field']``
(also with double quotes, or several names: ``$['a','b']``), chained (``$.features[0:3]``).
A path that selects several items (a slice, a list of indexes or names) yields a list; a single
index or name yields the item itself, as SageMaker's filters do. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..errors import ValidationException

__all__ = ["JsonPath", "JsonPathError", "parse_jsonpath"]

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)")
_INT = re.compile(r"-?\d+")


class JsonPathError(ValidationException):
    """A DataProcessing filter outside the supported subset, or a record it does not fit."""


@dataclasses.dataclass(frozen=True)
class _Step:
    kind: str  # "name", "names", "index", "indexes", "slice"
    value: Any


@dataclasses.dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[_Step, ...]

    @property
    def is_identity(self) -> bool:
        return not self.steps

    def apply(self, document: Any) -> Any:
        value = document
        for step in self.steps:
            value = _apply_step(step, value, self.text)
        return value


def _apply_step(step: _Step, value: Any, text: str) -> Any:
    if step.kind in ("name", "names"):
        if not isinstance(value, dict):
            raise JsonPathError(f"JSONPath {text!r}: selects a field of a record that is not "
                                "a JSON object")
        if step.kind == "name":
            if step.value not in value:
                raise JsonPathError(f"JSONPath {text!r}: the record has no field {step.value!r}")
            return value[step.value]
        return [value[name] for name in step.value if name in value]
    if not isinstance(value, list):
        raise JsonPathError(f"JSONPath {text!r}: indexes a record that is not an array")
    if step.kind == "index":
        try:
            return value[step.value]
        except IndexError:
            raise JsonPathError(f"JSONPath {text!r}: index {step.value} is out of range for "
                                f"an array of {len(value)}") from None
    if step.kind == "indexes":
        out = []
        for index in step.value:
            if not -len(value) <= index < len(value):
                raise JsonPathError(f"JSONPath {text!r}: index {index} is out of range for "
                                    f"an array of {len(value)}")
            out.append(value[index])
        return out
    start, stop = step.value
    return value[start:stop]


def _bracket(inner: str, text: str) -> _Step:
    inner = inner.strip()
    if inner.startswith(("'", '"')):
        names = []
        for part in _split_top(inner):
            part = part.strip()
            if len(part) < 2 or part[0] not in "'\"" or part[-1] != part[0]:
                raise JsonPathError(f"JSONPath {text!r}: {part!r} is not a quoted field name")
            names.append(part[1:-1])
        return _Step("name", names[0]) if len(names) == 1 else _Step("names", tuple(names))
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) != 2 or not all(p.strip() == "" or _INT.fullmatch(p.strip()) for p in parts):
            raise JsonPathError(f"JSONPath {text!r}: [{inner}] is not a slice [a:b]")
        start, stop = (int(p) if p.strip() else None for p in parts)
        return _Step("slice", (start, stop))
    items = [p.strip() for p in inner.split(",")]
    if not all(_INT.fullmatch(p) for p in items):
        raise JsonPathError(f"JSONPath {text!r}: [{inner}] is not an index, a list of indexes, "
                            "a slice or a quoted field name")
    if len(items) == 1:
        return _Step("index", int(items[0]))
    return _Step("indexes", tuple(int(p) for p in items))


def _split_top(inner: str) -> list[str]:
    parts, current, quote = [], "", ""
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def parse_jsonpath(text: Any, field: str = "DataProcessing") -> JsonPath:
    """Parse ``text``; a JsonPathError names ``field`` and what is not supported."""
    if not isinstance(text, str) or not text.strip().startswith("$"):
        raise JsonPathError(f"{field}: {text!r} is not a JSONPath expression starting with '$'")
    source = text.strip()
    rest = source[1:]
    steps: list[_Step] = []
    while rest:
        if rest.startswith("["):
            end = _closing(rest, source, field)
            steps.append(_bracket(rest[1:end], source))
            rest = rest[end + 1:]
            continue
        match = _NAME.match(rest)
        if match is None:
            raise JsonPathError(f"{field}: {source!r} is outside the supported JSONPath subset "
                                "($, $[i], $[a:b], $.field, $['field'])")
        steps.append(_Step("name", match.group(1)))
        rest = rest[match.end():]
    return JsonPath(source, tuple(steps))


def _closing(rest: str, source: str, field: str) -> int:
    quote = ""
    for i, char in enumerate(rest[1:], start=1):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "]":
            return i
    raise JsonPathError(f"{field}: {source!r} has an unclosed '['")
