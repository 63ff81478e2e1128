"""The written-out renderers of the two event pages equal the generic ``to_wire``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tandem.api.logs import render_filter_log_events, render_get_log_events
from tandem.api.members import to_wire
from tandem.telemetry.logs import (
    FilteredLogEvent,
    FilterLogEventsResult,
    GetLogEventsResult,
    OutputLogEvent,
)

_times = st.integers(0, 2**53)
_text = st.text(min_size=1, max_size=20)


@given(st.lists(st.builds(OutputLogEvent, _times, _text, _times), max_size=5), _text, _text)
def test_get_log_events_page_renders_as_to_wire(events, forward, backward) -> None:  # type: ignore[no-untyped-def]
    result = GetLogEventsResult(events, forward, backward)
    wire = render_get_log_events(result)
    assert wire == to_wire(result)
    assert list(wire) == list(to_wire(result))


@given(
    st.lists(st.builds(FilteredLogEvent, _text, _times, _text, _times, _text), max_size=5),
    st.none() | _text,
)
def test_filter_log_events_page_renders_as_to_wire(events, token) -> None:  # type: ignore[no-untyped-def]
    result = FilterLogEventsResult(events, token)
    wire = render_filter_log_events(result)
    assert wire == to_wire(result)
    assert list(wire) == list(to_wire(result))
    assert [list(e) for e in wire["events"]] == [list(e) for e in to_wire(result)["events"]]
