"""CloudWatch's documented missing-data tables (alarms-and-missing-data), row by row, through
the pure evaluator: (datapoints, TreatMissingData, M, N) -> state."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.telemetry.alarms.evaluator import Sample, decide, evaluate, evaluation_range
from tandem.telemetry.alarms.model import AlarmInput, AlarmState, TreatMissingData

KEEP = None
T0 = 1_700_000_040
# Columns: missing, ignore, breaching, notBreaching.
N3_M3 = [
    ("0 - X - X", ["OK", "OK", "OK", "OK"]),
    ("0 - - - -", ["OK", "OK", "OK", "OK"]),
    ("- - - - -", ["INSUFFICIENT_DATA", KEEP, "ALARM", "OK"]),
    ("0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("- - X - -", ["ALARM", KEEP, "ALARM", "OK"]),
]
N3_M2 = [
    ("0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("0 - X - -", ["OK", "OK", "ALARM", "OK"]),
    ("- - - - 0", ["OK", "OK", "ALARM", "OK"]),
    ("- - - X -", ["ALARM", KEEP, "ALARM", "OK"]),
]
TREATMENTS = ["missing", "ignore", "breaching", "notBreaching"]
CASES = [
    (points, treat, m, 3, expected[i])
    for m, table in ((3, N3_M3), (2, N3_M2))
    for points, expected in table
    for i, treat in enumerate(TREATMENTS)
]


def _samples(points: str, period: int = 60) -> list[Sample | None]:
    return [
        None if p == "-" else Sample(T0 + i * period, 10.0 if p == "X" else 0.0, 5.0)
        for i, p in enumerate(points.split())
    ]


def _alarm(treat: str, m: int, n: int) -> AlarmInput:
    return AlarmInput(
        alarm_name="a", metric_name="Invocation5XXErrors", namespace="AWS/SageMaker",
        statistic="Sum", period=60, evaluation_periods=n, datapoints_to_alarm=m, threshold=1.0,
        comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data=treat,
    )  # fmt: skip


def test_documented_range_is_five_for_three_periods() -> None:
    assert evaluation_range(3) == 5


@pytest.mark.parametrize(("points", "treat", "m", "n", "expected"), CASES)
@pytest.mark.parametrize("current", list(AlarmState))
def test_documented_missing_data_examples(
    points: str, treat: str, m: int, n: int, expected: str | None, current: AlarmState
) -> None:
    outcome = evaluate(_alarm(treat, m, n), _samples(points), T0, T0 + 306.0, current)
    if expected is KEEP:
        assert outcome is None
    else:
        assert outcome is not None and outcome.state == AlarmState(expected)


def test_premature_alarm_needs_m_periods_of_age() -> None:
    # "- - - - X" and "- - - X -" with M=3 do not alarm yet.
    for points in ("- - - - X", "- - - X -"):
        state, _ = decide([None if p == "-" else p == "X" for p in points.split()], 3, 3,
                          TreatMissingData.MISSING)  # fmt: skip
        assert state is AlarmState.OK


def test_zero_is_a_real_datapoint_not_missing() -> None:
    outcome = evaluate(_alarm("missing", 1, 1), _samples("- - 0"), T0, T0 + 186.0,
                       AlarmState.ALARM)  # fmt: skip
    assert outcome is not None and outcome.state is AlarmState.OK


def test_alarm_reason_text_and_data_as_cloudwatch_writes_them() -> None:
    outcome = evaluate(_alarm("missing", 2, 3), _samples("0 0 X 0 X"), T0, T0 + 306.5,
                       AlarmState.OK)  # fmt: skip
    assert outcome is not None and outcome.state is AlarmState.ALARM
    # T0 = 2023-11-14 22:14:00 UTC; the breaching points are slots 2 and 4.
    assert outcome.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [10.0 (14/11/23 22:18:00), "
        "10.0 (14/11/23 22:16:00)] were greater than or equal to the threshold (1.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    data = json.loads(outcome.reason_data_json())
    assert list(data) == ["version", "queryDate", "startDate", "statistic", "period",
                          "recentDatapoints", "threshold", "evaluatedDatapoints"]  # fmt: skip
    assert data["queryDate"] == "2023-11-14T22:19:06.500+0000"
    assert data["startDate"] == "2023-11-14T22:16:00.000+0000"
    assert data["recentDatapoints"] == [0.0, 0.0, 10.0, 0.0, 10.0]
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2023-11-14T22:18:00.000+0000", "sampleCount": 5.0, "value": 10.0},
        {"timestamp": "2023-11-14T22:16:00.000+0000", "sampleCount": 5.0, "value": 10.0},
    ]


def test_short_form_for_one_datapoint_without_datapoints_to_alarm() -> None:
    alarm = AlarmInput(alarm_name="a", metric_name="M", namespace="N", statistic="Sum",
                       period=60, evaluation_periods=1, threshold=0.0,
                       comparison_operator="GreaterThanThreshold")  # fmt: skip
    outcome = evaluate(alarm, _samples("- - X"), T0, T0 + 186.0, AlarmState.OK)
    assert outcome is not None
    assert outcome.reason == (
        "Threshold Crossed: 1 datapoint [10.0 (14/11/23 22:16:00)] was greater than the "
        "threshold (0.0)."
    )
    back = evaluate(alarm, _samples("- - 0"), T0, T0 + 186.0, AlarmState.ALARM)
    assert back is not None and back.reason == (
        "Threshold Crossed: 1 datapoint [0.0 (14/11/23 22:16:00)] was not greater than the "
        "threshold (0.0)."
    )


def test_all_missing_texts() -> None:
    outcome = evaluate(_alarm("missing", 3, 3), _samples("- - - - -"), T0, T0 + 306.0,
                       AlarmState.OK)  # fmt: skip
    assert outcome is not None and outcome.reason == "Insufficient Data: 3 datapoints were unknown."
    assert "startDate" not in json.loads(outcome.reason_data_json())
    breaching = evaluate(_alarm("breaching", 2, 2), _samples("- - - -"), T0, T0 + 246.0,
                         AlarmState.OK)  # fmt: skip
    assert breaching is not None and breaching.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
        "datapoints were treated as [Breaching]."
    )


def _naive(flags: list[bool | None], n: int, m: int, treat: TreatMissingData) -> str | None:
    """The documented rules re-derived slot by slot, for the cases they fully determine."""
    real = [f for f in flags if f is not None]
    if len(real) >= n:
        return "ALARM" if sum(real[-n:]) >= m else "OK"
    if treat is TreatMissingData.BREACHING:
        return "ALARM" if sum(real) + n - len(real) >= m else "OK"
    if treat is TreatMissingData.NOT_BREACHING:
        return "ALARM" if sum(real) >= m else "OK"
    return "skip"


@given(
    st.lists(st.one_of(st.none(), st.booleans()), min_size=4, max_size=12),
    st.integers(1, 4),
    st.data(),
    st.sampled_from(list(TreatMissingData)),
)
def test_decide_agrees_with_a_naive_reading(flags, n, data, treat) -> None:  # type: ignore[no-untyped-def]
    m = data.draw(st.integers(1, n))
    expected = _naive(flags, n, m, treat)
    state, _ = decide(flags, n, m, treat)
    if expected == "skip":
        real = [f for f in flags if f is not None]
        if not real:
            assert state == (AlarmState.INSUFFICIENT_DATA if treat is TreatMissingData.MISSING
                             else None)  # fmt: skip
        elif sum(real) >= m:
            assert state in (AlarmState.ALARM, None)
        return
    assert state == AlarmState(expected)
