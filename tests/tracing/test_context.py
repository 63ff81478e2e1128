"""W3C Trace Context parsing and the samplers, against the spec's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.telemetry.tracing import Sampler, SpanContext, format_traceparent, parse_traceparent
from tandem.telemetry.tracing.context import parse_tracestate

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_valid_traceparent_is_read() -> None:
    ctx = parse_traceparent(VALID, "congo=t61rcWkgMzE")
    assert ctx == SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, 1,
                              "congo=t61rcWkgMzE")
    assert ctx.sampled


@pytest.mark.parametrize("value", [
    "",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",             # 3 fields
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",          # uppercase hex
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          # zero parent id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          # forbidden version
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",    # 00 with a 5th field
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",         # higher, no dash at 55
    "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          # version not hex
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",          # trace id not hex
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",          # wrong separators
])
def test_invalid_traceparent_is_treated_as_absent(value: str) -> None:
    assert parse_traceparent(value, "a=b") is None


def test_higher_version_is_read_from_its_first_fields() -> None:
    ctx = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever")
    assert ctx is not None and ctx.span_id == 0x00F067AA0BA902B7
    assert format_traceparent(ctx.trace_id, ctx.span_id, ctx.flags) == VALID


def test_tracestate_drops_bad_members_and_keeps_order() -> None:
    assert parse_tracestate("a=1, ,Bad=2,b=two words,c=x=y,a=dup,d=ok ") == "a=1,b=two words,d=ok"
    assert parse_tracestate(",,") is None
    long = ",".join(f"k{i}=" + "v" * 100 for i in range(10))
    kept = parse_tracestate(long)
    assert kept is not None and len(kept) <= 512 and kept.startswith("k0=")
    assert parse_tracestate(",".join(f"k{i}=v" for i in range(40))).count(",") == 31  # type: ignore[union-attr]


@given(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.integers(0, 255))
def test_format_and_parse_round_trip(trace_id: int, span_id: int, flags: int) -> None:
    ctx = parse_traceparent(format_traceparent(trace_id, span_id, flags))
    assert ctx is not None and (ctx.trace_id, ctx.span_id, ctx.flags) == (trace_id, span_id, flags)


def test_samplers() -> None:
    sampled = SpanContext(1, 1, 1)
    unsampled = SpanContext(1, 1, 0)
    assert Sampler("parentbased_always_on").sampled(5, None)
    assert not Sampler("parentbased_always_on").sampled(5, unsampled)
    assert Sampler("parentbased_always_off").sampled(5, sampled)
    assert not Sampler("parentbased_always_off").sampled(5, None)
    assert Sampler("always_on").sampled(5, unsampled)
    assert not Sampler("always_off").sampled(5, sampled)
    half = Sampler("traceidratio", 0.5)
    assert half.sampled((7 << 64) | (2**63 - 1), None)
    assert not half.sampled(2**63, None)


@given(st.lists(st.integers(1, 2**128 - 1), min_size=200, max_size=200, unique=True))
def test_ratio_sampler_is_the_low_64_bit_rule(ids: list[int]) -> None:
    sampler = Sampler("parentbased_traceidratio", 0.01)
    for trace_id in ids:
        assert sampler.sampled(trace_id, None) == ((trace_id % 2**64) < round(0.01 * 2**64))
