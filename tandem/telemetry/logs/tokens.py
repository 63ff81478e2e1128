"""Opaque pagination tokens for the logs queries.

GetLogEvents tokens look like AWS's (``f/`` or ``b/`` and 56 digits) and carry a position in
the stream's (timestamp, seq) order plus a check so a mangled token is refused rather than
misread. FilterLogEvents carries the last returned position; the Describe calls an offset.
"""

from __future__ import annotations

import zlib

from tandem.errors import InvalidParameterValue

from .store import Position
from .validation import INVALID_NEXT_TOKEN

__all__ = [
    "encode_stream_token",
    "decode_stream_token",
    "encode_filter_token",
    "decode_filter_token",
    "encode_offset_token",
    "decode_offset_token",
    "BEFORE_ALL",
    "AFTER_ALL",
]

# Timestamps are >= 0 and seqs >= 1, so these lie outside every stream.
BEFORE_ALL: Position = (-1, 0)
AFTER_ALL: Position = (10**17, 0)
_TS_SHIFT = 1  # stored shifted so BEFORE_ALL encodes without a sign


def _check(kind: str, body: str) -> str:
    return f"{zlib.crc32(f'{kind}{body}'.encode()) % 10**16:016d}"


def _invalid() -> InvalidParameterValue:
    return InvalidParameterValue(INVALID_NEXT_TOKEN)


def encode_stream_token(direction: str, position: Position) -> str:
    """``direction`` is ``f`` (events after the position) or ``b`` (events before it)."""
    timestamp, seq = position
    body = f"{timestamp + _TS_SHIFT:020d}{seq:020d}"
    return f"{direction}/{body}{_check(direction, body)}"


def decode_stream_token(token: str) -> tuple[str, Position]:
    direction, position = _decode_any(token)
    if direction not in ("f", "b"):
        raise _invalid()
    return direction, position


def encode_filter_token(position: Position) -> str:
    body = f"{position[0] + _TS_SHIFT:020d}{position[1]:020d}"
    return f"e/{body}{_check('e', body)}"


def decode_filter_token(token: str) -> Position:
    direction, position = _decode_any(token)
    if direction != "e":
        raise _invalid()
    return position


def encode_offset_token(offset: int) -> str:
    body = f"{offset:040d}"
    return f"o/{body}{_check('o', body)}"


def decode_offset_token(token: str) -> int:
    direction, (_, offset) = _decode_any(token)
    if direction != "o":
        raise _invalid()
    return offset


def _decode_any(token: str) -> tuple[str, Position]:
    if not isinstance(token, str) or len(token) != 58 or token[1] != "/":
        raise _invalid()
    kind, digits = token[0], token[2:]
    if not digits.isascii() or not digits.isdigit():
        raise _invalid()
    body, check = digits[:40], digits[40:]
    if _check(kind, body) != check:
        raise _invalid()
    return kind, (int(body[:20]) - _TS_SHIFT, int(body[20:]))
