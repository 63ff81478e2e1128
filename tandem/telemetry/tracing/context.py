"""W3C Trace Context: ``traceparent`` and ``tracestate`` read and written, and the sampler.

Ids are held as integers (128-bit trace id, 64-bit span id): drawing one is a single
``getrandbits`` call and rendering one is a format spec, so the request path never builds
byte strings it does not send. Parsing follows the W3C processing model: an invalid
``traceparent`` is treated as absent (a new trace, and its ``tracestate`` dropped); a
higher version is read from its first three fields and re-emitted as version ``00``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from random import getrandbits

__all__ = [
    "SAMPLED",
    "RANDOM",
    "SpanContext",
    "Sampler",
    "SamplerName",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
    "parse_tracestate",
    "format_traceparent",
]

SAMPLED = 0x01
# Level 2's random-trace-id flag: set on traces this side starts (their ids are all random).
RANDOM = 0x02
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})").match
_TRACESTATE_KEY = re.compile(r"^[a-z0-9][_0-9a-z\-*/@]{0,255}$")
_TRACESTATE_MEMBERS = 32


@dataclasses.dataclass(slots=True, frozen=True)
class SpanContext:
    """The caller's span as a ``traceparent`` names it (``remote``: it came from outside)."""

    trace_id: int
    span_id: int
    flags: int
    tracestate: str | None = None
    remote: bool = True

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)


def new_trace_id() -> int:
    trace_id = getrandbits(128)
    while not trace_id:
        trace_id = getrandbits(128)
    return trace_id


def new_span_id() -> int:
    span_id = getrandbits(64)
    while not span_id:
        span_id = getrandbits(64)
    return span_id


def parse_traceparent(value: str | None, tracestate: str | None = None) -> SpanContext | None:
    """The context a ``traceparent`` header names, or None when it is absent or invalid."""
    if not value:
        return None
    value = value.strip(" \t")
    match = _TRACEPARENT(value)  # the first 55 characters: four lowercase-hex fields
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex = match.groups()
    if version == "ff":
        return None
    if version == "00":
        if len(value) != 55:
            return None
    elif len(value) > 55 and value[55] != "-":
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, int(flags_hex, 16), parse_tracestate(tracestate))


def parse_tracestate(value: str | None) -> str | None:
    """``tracestate`` with malformed members dropped (never the whole ``traceparent``), at most
    32 members and 512 characters kept (whole members, dropped from the right); None when
    nothing valid is left."""
    if not value:
        return None
    members: list[str] = []
    seen: set[str] = set()
    for raw in value.split(","):
        member = raw.strip(" \t")
        if not member:
            continue
        key, sep, val = member.partition("=")
        if not sep or not _TRACESTATE_KEY.match(key) or key in seen or not _valid_value(val):
            continue
        seen.add(key)
        members.append(member)
        if len(members) == _TRACESTATE_MEMBERS:
            break
    while members and len(",".join(members)) > 512:
        members.pop()
    return ",".join(members) or None


def _valid_value(value: str) -> bool:
    if not value or len(value) > 256 or value.endswith(" "):
        return False
    return all(0x20 <= ord(c) <= 0x7E and c not in ",=" for c in value)


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


class SamplerName(enum.StrEnum):
    """OpenTelemetry's ``OTEL_TRACES_SAMPLER`` values that tandem implements."""

    ALWAYS_ON = "always_on"
    ALWAYS_OFF = "always_off"
    TRACEIDRATIO = "traceidratio"
    PARENTBASED_ALWAYS_ON = "parentbased_always_on"
    PARENTBASED_ALWAYS_OFF = "parentbased_always_off"
    PARENTBASED_TRACEIDRATIO = "parentbased_traceidratio"


class Sampler:
    """Decides whether a new server span is recorded and exported.

    The ratio samplers keep a trace when the low 64 bits of its id fall under
    ``ratio * 2**64`` (the rule OpenTelemetry's ``TraceIdRatioBased`` uses), so every service
    sampling at the same ratio keeps the same traces. The parent-based samplers follow a
    caller's sampled flag and use the named root sampler only for new traces."""

    __slots__ = ("name", "ratio", "root_bound", "parent_based", "_bound", "_root")

    def __init__(self, name: SamplerName | str, ratio: float = 1.0) -> None:
        self.name = SamplerName(name)
        self.ratio = ratio
        self._bound = round(max(0.0, min(1.0, ratio)) * (1 << 64))
        self.parent_based = self.name.value.startswith("parentbased_")
        self._root = self.name.value.removeprefix("parentbased_")
        # The root decision as one comparison: a trace is kept when the low 64 bits of its id
        # are under ``root_bound`` (all of them for always_on, none for always_off).
        self.root_bound = {"always_on": 1 << 64, "always_off": 0}.get(self._root, self._bound)

    def sampled(self, trace_id: int, parent: SpanContext | None) -> bool:
        if parent is not None and self.parent_based:
            return parent.sampled
        return (trace_id & 0xFFFFFFFFFFFFFFFF) < self.root_bound
