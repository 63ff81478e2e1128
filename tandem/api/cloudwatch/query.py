"""CloudWatch over the AWS query protocol: form-encoded ``POST /`` with ``Action=<Op>``.

What older botocore and some AWS CLI v2 builds send. Lists are ``X.member.N``
(1-based), maps ``X.entry.N.key``/``X.entry.N.value``, and an empty value
(``Dimensions=``) is an empty list. Every scalar is text: numbers, the
literals ``NaN``/``Infinity``/``-Infinity``, ``true``/``false`` and ISO 8601 times.
The flat keys are first folded into a tree, then the tree is checked against
the operation's input shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from ...errors import MissingParameter
from .errors import MalformedRequest
from .shapes import INPUTS, Shape, input_coercer, parse_time_text, wrong_type

__all__ = ["CONTENT_TYPE", "VERSION", "parse_form", "decode", "decode_form"]

CONTENT_TYPE = "application/x-www-form-urlencoded"
VERSION = "2010-08-01"
_MAX_INDEX = 100_000  # far above any CloudWatch collection limit; bounds the work per key


def parse_form(body: bytes, url_query: Mapping[str, str] | None = None) -> dict[str, str]:
    """The form's parameters (URL query first, then the body; the body wins)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=200_000)  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"The request body is not a valid form: {exc}") from None
    params = dict(url_query or {})
    params.update(pairs)
    return params


def _tree(params: Mapping[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in params.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None or child == "":
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise MalformedRequest(f"The parameter {key} conflicts with another parameter.")
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict):
            if value != "":
                raise MalformedRequest(f"The parameter {key} conflicts with another parameter.")
            continue
        node[last] = value
    return root


def _index(text: str, path: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= _MAX_INDEX:
        raise MalformedRequest(f"The index {text!r} in parameter {path} is not valid.")
    return int(text)


def _shape_tree(node: Any, shape: Shape, path: str) -> Any:
    """The tree rearranged to the shape's nesting: lists and maps become Python ones."""
    if shape.kind == "structure":
        if not isinstance(node, dict):
            raise wrong_type(path or "input", "structure")
        return {name: _shape_tree(node[name], member, f"{path}.{name}" if path else name)
                for name, member in shape.members.items() if name in node}  # fmt: skip
    if shape.kind in ("list", "map"):
        assert shape.member is not None
        if node == "":
            return [] if shape.kind == "list" else {}
        if not isinstance(node, dict):
            raise wrong_type(path, shape.kind)
        key = "member" if shape.kind == "list" else "entry"
        items = node.get(key, {})
        if set(node) - {key} or not isinstance(items, dict):
            raise wrong_type(path, shape.kind)
        ordered = sorted((_index(i, path), item) for i, item in items.items())
        if shape.kind == "list":
            return [_shape_tree(item, shape.member, f"{path}.member.{i}") for i, item in ordered]
        out = {}
        for i, entry in ordered:
            where = f"{path}.entry.{i}"
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                raise MissingParameter(f"The parameter {where}.key is required.")
            out[entry["key"]] = _shape_tree(entry.get("value"), shape.member, f"{where}.value")
        return out
    return node


_BOOLEANS = {"true": True, "false": False}
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _scalar(kind: str, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        raise wrong_type(path, kind)
    try:
        if kind == "string":
            return value
        if kind == "integer":
            if value.strip() == value and value.lstrip("-").isdigit() and len(value) < 20:
                return int(value)
        elif kind == "double":
            if value in _SPECIAL:
                return _SPECIAL[value]
            return float(value)
        elif kind == "boolean":
            if value in _BOOLEANS:
                return _BOOLEANS[value]
        elif kind == "timestamp":
            return parse_time_text(value, path)
    except ValueError:
        pass
    raise wrong_type(path, kind)


# Form values are text: a value of any other type is refused, so only text is kept as is.
_scalar.keeps = {"string": str}  # type: ignore[attr-defined]


def decode(operation: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The operation's members from the form parameters (``Action``/``Version`` aside)."""
    tree = _tree({k: v for k, v in params.items() if k not in ("Action", "Version")})
    return input_coercer(operation, _scalar)(_shape_tree(tree, INPUTS[operation], ""))


def decode_form(
    body: bytes, url_query: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """(operation, parameters) of a query request; the operation is ``Action``."""
    params = parse_form(body, url_query)
    action = params.get("Action")
    if not action:
        raise MissingParameter("The parameter Action is required.")
    return action, params
