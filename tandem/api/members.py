"""Request members of the JSON protocols: declared shapes, type and constraint checks, case mapping.

botocore checks only types, required members and minimums on the client;
other clients (curl, the Java SDK, a fuzzer) check nothing. Each operation
declares its members once; ``parse_members`` rejects wrong types, unknown
members, missing required ones and values outside the model's length, range,
pattern and enum constraints with a typed error naming the member in AWS's
"1 validation error detected" form, then hands the core snake_case keyword
arguments. ``to_wire`` renders a result dataclass back as camelCase members,
omitting ``None``.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidParameterValue, MissingParameter

__all__ = ["Member", "parse_members", "to_wire", "snake", "camel", "constraint_error"]

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
    required, for lists the type of the items, and the model's constraints: ``min_len`` /
    ``max_len`` (characters of a string, items of a list or dict), ``minimum`` / ``maximum``
    (numbers), ``pattern`` (full match) and ``enum``."""

    type: type
    required: bool = False
    items: builtins.type | None = None
    min_len: int | None = None
    max_len: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    enum: Sequence[str] | None = None


def _type_name(t: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a structure",
    }.get(t, t.__name__)


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 100 else text[:100] + "..."


def constraint_error(
    value: Any,
    where: str,
    constraint: str,
    error: type[InvalidParameterValue] = InvalidParameterValue,
) -> InvalidParameterValue:
    """AWS's validation text: ``1 validation error detected: Value 'x' at 'member' ...``."""
    return error(
        f"1 validation error detected: Value '{_shown(value)}' at '{where}' failed to satisfy "
        f"constraint: {constraint}"
    )


# The exact types that pass ``_ok`` for each expected type: JSON decoders build only these.
_EXACT: dict[type, set[type]] = {
    str: {str}, int: {int}, float: {float, int}, bool: {bool}, list: {list}, dict: {dict}
}


def _ok(value: Any, expected: type) -> bool:
    ok = isinstance(value, expected) and not (expected in (int, float) and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    return ok


def _check(value: Any, expected: type, where: str) -> Any:
    if not _ok(value, expected):
        raise InvalidParameterValue(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
            f"Member must be {_type_name(expected)}"
        )
    return value


def _constraints(value: Any, member: Member, where: str) -> None:
    if isinstance(value, str | list | dict):
        size = len(value)
        if member.min_len is not None and size < member.min_len:
            raise constraint_error(
                value, where, f"Member must have length greater than or equal to {member.min_len}"
            )
        if member.max_len is not None and size > member.max_len:
            raise constraint_error(
                value, where, f"Member must have length less than or equal to {member.max_len}"
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise constraint_error(value, where, "Member must be a finite number")
        if member.minimum is not None and value < member.minimum:
            raise constraint_error(
                value, where, f"Member must have value greater than or equal to {member.minimum:g}"
            )
        if member.maximum is not None and value > member.maximum:
            raise constraint_error(
                value, where, f"Member must have value less than or equal to {member.maximum:g}"
            )
    if isinstance(value, str):
        if member.enum is not None and value not in member.enum:
            raise constraint_error(
                value, where, f"Member must satisfy enum value set: [{', '.join(member.enum)}]"
            )
        if member.pattern is not None and not re.fullmatch(member.pattern, value):
            raise constraint_error(
                value, where, f"Member must satisfy regular expression pattern: {member.pattern}"
            )


def parse_members(
    body: Mapping[str, Any],
    shape: Mapping[str, Member],
    *,
    lower_first: bool = False,
    prefix: str = "",
) -> dict[str, Any]:
    """Validate ``body`` against ``shape``; returns snake_case keyword arguments.

    ``lower_first``: name members in messages with a lower-case first letter, as SageMaker's
    messages do (``'endpointName'`` for ``EndpointName``); ``prefix``: the path of a nested
    structure (``'desiredWeightsAndCapacities.1.member.'``)."""
    unknown = sorted(set(body) - set(shape))
    if unknown:
        raise InvalidParameterValue(f"Unknown parameter {prefix + unknown[0]!r}.")
    kwargs: dict[str, Any] = {}
    for name, member in shape.items():
        where = prefix + (name[:1].lower() + name[1:] if lower_first else name)
        value = body.get(name)
        if value is None:
            if member.required:
                raise MissingParameter(
                    f"1 validation error detected: Value null at '{where}' failed to satisfy "
                    "constraint: Member must not be null"
                )
            continue
        _check(value, member.type, where)
        if member.items is not None:
            items = member.items
            # One C-level pass over the item types decides a good list (it may hold 10,000);
            # the member path is only built for a bad item.
            if not set(map(type, value)) <= _EXACT.get(items, set()):
                for i, item in enumerate(value):
                    if not _ok(item, items):
                        _check(item, items, f"{where}.{i + 1}.member")
        _constraints(value, member, where)
        kwargs[snake(name)] = value
    return kwargs


_SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _wire_names(cls: type, upper: bool) -> tuple[tuple[str, str], ...]:
    """Each field of a dataclass with its wire name; computed once per class, not per value."""
    return tuple((f.name, camel(f.name, upper)) for f in dataclasses.fields(cls))


def to_wire(value: Any, *, upper: bool = False) -> Any:
    """A result dataclass (or list/dict of them) as wire members; ``None`` members omitted."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if dataclasses.is_dataclass(cls):
        out = {}
        for name, wire in _wire_names(cls, upper):
            member = getattr(value, name)
            if member is None:
                continue
            # Scalars (most members of a log event) are their own wire value: no call.
            out[wire] = member if type(member) in _SCALARS else to_wire(member, upper=upper)
        return out
    if isinstance(value, list | tuple):
        return [to_wire(v, upper=upper) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v, upper=upper) for k, v in value.items()}
    return value
