"""CloudWatch's rules for namespaces, metric names, dimensions, units and values."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from tandem.errors import InvalidParameterValue

__all__ = [
    "UNITS",
    "MAX_DIMENSIONS",
    "validate_namespace",
    "validate_metric_name",
    "normalize_dimensions",
    "validate_unit",
    "validate_value",
]

UNITS: frozenset[str] = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)

# The issue fixes 10 (SageMaker's documented limit), not the 30 of today's PutMetricData model.
MAX_DIMENSIONS = 10


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _check_text(what: str, text: object, max_len: int) -> str:
    if not isinstance(text, str):
        raise InvalidParameterValue(f"The parameter {what} must be a string.")
    if not 1 <= len(text) <= max_len:
        raise InvalidParameterValue(
            f"The parameter {what} must be between 1 and {max_len} characters long."
        )
    if not text.isascii():
        raise InvalidParameterValue(f"The parameter {what} must contain only ASCII characters.")
    if text.startswith(":"):
        raise InvalidParameterValue(f"The parameter {what} must not start with ':'.")
    if _CONTROL.search(text):
        raise InvalidParameterValue(f"The parameter {what} must not contain control characters.")
    if text.isspace():
        raise InvalidParameterValue(
            f"The parameter {what} must contain at least one non-whitespace character."
        )
    return text


def validate_namespace(namespace: object) -> str:
    return _check_text("Namespace", namespace, 255)


def validate_metric_name(name: object) -> str:
    return _check_text("MetricName", name, 255)


def normalize_dimensions(
    dimensions: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """Validated dimensions as a tuple sorted by name (a set: order never matters)."""
    pairs = list(dimensions.items()) if isinstance(dimensions, Mapping) else list(dimensions)
    if len(pairs) > MAX_DIMENSIONS:
        raise InvalidParameterValue(
            f"The collection Dimensions must not have a size greater than {MAX_DIMENSIONS}, "
            f"but has {len(pairs)}."
        )
    seen: set[str] = set()
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidParameterValue(f"A dimension must be a (Name, Value) pair, got {pair!r}.")
        name, value = pair
        _check_text("Dimensions.Name", name, 255)
        _check_text("Dimensions.Value", value, 1024)
        if name in seen:
            raise InvalidParameterValue(f"The dimension {name} is given more than once.")
        seen.add(name)
    return tuple(sorted((name, value) for name, value in pairs))


def validate_unit(unit: object) -> str:
    if unit not in UNITS:
        raise InvalidParameterValue(
            f"The parameter Unit must be one of: {', '.join(sorted(UNITS))}; got {unit!r}."
        )
    return unit


def validate_value(value: object, what: str = "Value") -> float:
    """A finite number (CloudWatch rejects NaN and +-Infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"The value {value!r} for parameter {what} is invalid.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameterValue(f"The value {value!r} for parameter {what} is invalid.")
    return number
