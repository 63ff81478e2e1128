"""MetricDefinitions: regexes over log lines become metric values."""

from __future__ import annotations

import pytest

from tandem.errors import ValidationException
from tandem.jobs.metric_definitions import MetricMatcher, parse_metric_definitions


def test_every_match_is_recorded_and_the_last_one_is_final() -> None:
    seen: list[tuple[str, float, float]] = []
    definitions = parse_metric_definitions([
        {"Name": "train:loss", "Regex": r"loss=([0-9.eE+-]+)"},
        {"Name": "acc", "Regex": r"acc: (\S+)"},
    ])
    matcher = MetricMatcher(definitions, lambda *args: seen.append(args))
    matcher.on_line("epoch=0 loss=1.5", 1000)
    matcher.on_line("loss=0.5 loss=0.25 acc: nan acc: bad", 2000)
    matcher.on_line("nothing here", 3000)
    assert seen == [("train:loss", 1.5, 1.0), ("train:loss", 0.5, 2.0),
                    ("train:loss", 0.25, 2.0)]
    assert [(m.metric_name, m.value, m.timestamp) for m in matcher.final_metrics()] == [
        ("train:loss", 0.25, 2.0)]


def test_a_regex_without_a_group_uses_the_whole_match() -> None:
    matcher = MetricMatcher(parse_metric_definitions([{"Name": "n", "Regex": r"\d+\.\d+"}]))
    matcher.on_line("value 3.25", 0)
    assert matcher.final_metrics()[0].value == 3.25


@pytest.mark.parametrize("raw", [
    [{"Name": "x", "Regex": "("}],
    [{"Name": "", "Regex": "a"}],
    [{"Name": "x"}],
    [{"Name": f"m{i}", "Regex": "a"} for i in range(41)],
])
def test_invalid_definitions_are_refused(raw: list[dict[str, str]]) -> None:
    with pytest.raises(ValidationException):
        parse_metric_definitions(raw)
