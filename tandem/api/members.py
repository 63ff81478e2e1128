"""Request members of the JSON protocols: declared shapes, type checks, case mapping.

botocore checks only types, required members and minimums on the client;
other clients (curl, the Java SDK, a fuzzer) check nothing. Each operation
declares its members once; ``parse_members`` rejects wrong types, unknown
members and missing required ones with a typed error naming the member, then
hands the core snake_case keyword arguments. ``to_wire`` renders a result
dataclass back as camelCase members, omitting ``None``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidParameterValue, MissingParameter

__all__ = ["Member", "parse_members", "to_wire", "snake", "camel"]

_CAMEL_SPLIT = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL_SPLIT.sub("_", name).lower()


def camel(name: str, upper: bool = False) -> str:
    head, *rest = name.split("_")
    text = head + "".join(p[:1].upper() + p[1:] for p in rest)
    return text[:1].upper() + text[1:] if upper else text


@dataclasses.dataclass(frozen=True)
class Member:
    """A request member: its JSON type (str, int, float, bool, list, dict), whether it is
    required, and for lists the type of the items."""

    type: type
    required: bool = False
    items: type | None = None


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "a list", dict: "a structure"}.get(t, t.__name__)


def _check(value: Any, expected: type, where: str) -> Any:
    ok = isinstance(value, expected) and not (expected in (int, float) and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise InvalidParameterValue(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
            f"Member must be {_type_name(expected)}"
        )
    return value


def parse_members(body: Mapping[str, Any], shape: Mapping[str, Member]) -> dict[str, Any]:
    """Validate ``body`` against ``shape``; returns snake_case keyword arguments."""
    unknown = sorted(set(body) - set(shape))
    if unknown:
        raise InvalidParameterValue(f"Unknown parameter {unknown[0]!r}.")
    kwargs: dict[str, Any] = {}
    for name, member in shape.items():
        value = body.get(name)
        if value is None:
            if member.required:
                raise MissingParameter(
                    f"1 validation error detected: Value null at '{name}' failed to satisfy "
                    "constraint: Member must not be null"
                )
            continue
        _check(value, member.type, name)
        if member.items is not None:
            for i, item in enumerate(value):
                _check(item, member.items, f"{name}.{i + 1}")
        kwargs[snake(name)] = value
    return kwargs


def to_wire(value: Any, *, upper: bool = False) -> Any:
    """A result dataclass (or list/dict of them) as wire members; ``None`` members omitted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(f.name, upper): to_wire(getattr(value, f.name), upper=upper)
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, list | tuple):
        return [to_wire(v, upper=upper) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v, upper=upper) for k, v in value.items()}
    return value
