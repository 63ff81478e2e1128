"""The dashboard in a real browser (Debian's Chromium, Python's playwright) against a real server.

One walk through every page (tests/dashboard/walk.py) reports what it saw; the tests below
each assert one behaviour on that report. Screenshots go to a temporary folder, or
to $TANDEM_SCREENSHOTS (docs/screenshots/ when regenerating the docs).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import label_overflows
from tests.dashboard.conftest import (
    BENCH_POINTS,
    BIG_METRIC,
    CONTAINERS,
    LOG_FLOOD,
    LONG_ENDPOINT,
    LONG_GROUP,
    LONG_STREAM,
    LONG_VARIANT,
    XSS,
    Traffic,
)
from tests.dashboard.walk import walk

SEED_METRICS = (
    "Invocations",
    "Invocation4XXErrors",
    "Invocation5XXErrors",
    "InvocationsPerInstance",
    "ModelLatency",
    "OverheadLatency",
    "ContainerLatency",
    "CPUUtilization",
    "MemoryUtilization",
    "DiskUtilization",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def seen(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    shots = Path(os.environ.get("TANDEM_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    report = walk(traffic.server.url, shots, BIG_METRIC, (LONG_ENDPOINT, LONG_GROUP, LONG_VARIANT))
    report["shots"] = shots
    # The timings docs/dashboard.md quotes (visible with pytest -s).
    print(
        "dashboard timings:",
        json.dumps(
            {
                "week_chart": report["weekChart"],
                "flood": report["flood"],
                "tail_ms": report["tailMs"],
            }
        ),
    )
    return report


def test_the_page_loads_without_errors_or_requests_elsewhere(seen: dict[str, Any]) -> None:
    assert seen["errors"] == []
    # Only the deliberately bad filter pattern fails, and the jobs operations where the server
    # does not have them yet.
    assert [f for f in seen["failedBeforeFakeJobs"] if "Jobs" not in f] == [
        "400 Logs_20140328.FilterLogEvents"
    ]
    assert seen["requests"] == []  # no CDN, nothing off the tandem port
    assert seen["landed"].endswith("/dashboard/")


def test_endpoint_list_shows_status_and_last_hour_invocations(
    seen: dict[str, Any], traffic: Traffic
) -> None:
    assert seen["endpointsList"] == {"status": "InService", "invocations": traffic.invocations}


def test_endpoint_page_charts_every_seed_metric_with_data(seen: dict[str, Any]) -> None:
    points: dict[str, int] = {}
    for chart in seen["charts"]:
        for series in chart["series"]:
            points[series["metric"]] = points.get(series["metric"], 0) + series["points"]
    assert {m: points.get(m, 0) > 0 for m in SEED_METRICS} == {m: True for m in SEED_METRICS}
    drawn = {c["chart"] for c in seen["charts"] if c["canvas"]}
    assert (
        set(SEED_METRICS) - {"Invocation4XXErrors", "Invocation5XXErrors", "InvocationsPerInstance"}
        <= drawn
    )
    latency = {c["chart"]: [s["label"] for s in c["series"]] for c in seen["charts"]}
    assert latency["ModelLatency"] == ["average", "p50", "p99"]
    assert latency["OverheadLatency"] == ["average", "p50", "p99"]
    assert latency["ContainerLatency"] == list(CONTAINERS)


def test_container_breakdown_lists_the_pipeline_in_order(seen: dict[str, Any]) -> None:
    assert seen["breakdown"] == list(CONTAINERS)


def test_a_week_of_minutes_charts_every_point_and_stays_responsive(seen: dict[str, Any]) -> None:
    week = seen["weekChart"]
    assert week["series"] == [{"label": "Average", "metric": "Load", "points": BENCH_POINTS}]
    assert week["ms"] < 10_000
    assert week["hover20ms"] < 5_000


def test_explorer_shows_the_query_as_boto3_and_cli(seen: dict[str, Any]) -> None:
    assert "cloudwatch.get_metric_data(" in seen["boto3"]
    assert '"Namespace": "Bench/Dashboard"' in seen["boto3"]
    assert '"Period": 60' in seen["boto3"]
    assert seen["awscli"].startswith(
        "aws cloudwatch get-metric-data --endpoint-url http://127.0.0.1:"
    )
    assert '"Stat":"Average"' in seen["awscli"]


def test_logs_page_lists_groups_and_the_pipeline_streams(seen: dict[str, Any]) -> None:
    assert seen["logGroups"] == [
        f"/aws/sagemaker/Endpoints/{LONG_ENDPOINT}",
        "/aws/sagemaker/Endpoints/pipe",
        "/aws/sagemaker/Endpoints/xss",
        LONG_GROUP,
    ]
    assert seen["logStreams"][0] == "All streams"
    assert sorted(s.rsplit("/", 1)[1] for s in seen["logStreams"][1:]) == sorted(CONTAINERS)
    assert all(s.startswith("AllTraffic/i-") for s in seen["logStreams"][1:])


def test_filter_pattern_shows_exactly_the_matching_lines(seen: dict[str, Any]) -> None:
    assert sorted(seen["filtered"]) == sorted(f"{c}: line 2" for c in CONTAINERS)
    assert seen["filteredOneStream"] == ["second: line 2"]


def test_a_bad_pattern_shows_the_server_error_inline(seen: dict[str, Any]) -> None:
    assert seen["filterError"] == (
        "InvalidParameterException: Invalid filter pattern at position 9: "
        "expected a value after =, found 'end of pattern'"
    )
    assert seen["filterErrorRows"] == 0


def test_live_tail_appends_a_line_printed_after_the_page_opened(seen: dict[str, Any]) -> None:
    assert seen["tailInvokeStatus"] == 200
    assert sorted(seen["tailed"]) == sorted(f"{c}: line 4" for c in CONTAINERS)


def test_untrusted_log_text_renders_as_text_and_runs_nothing(seen: dict[str, Any]) -> None:
    flood = seen["flood"]
    assert flood["rows"] == LOG_FLOOD
    assert flood["first"].startswith(f"{XSS}: ")  # the container's first line, as typed
    assert flood["injected"] == 0
    assert seen["xssFlag"] is None and seen["xssFlagEnd"] is None
    assert flood["ms"] < 20_000
    assert flood["scrollMs"] < 2_000


def test_axis_labels_fit_their_box_at_1440_and_1024_px(seen: dict[str, Any]) -> None:
    views = ("endpoint@1440", "endpoint@1024", "explorer@1440", "explorer@1024")
    assert sorted(seen["axes"]) == sorted(views)
    for view in views:
        assert seen["axes"][view], view  # charts were drawn
        assert label_overflows(seen["axes"][view]) == [], view
    # The seven-digit labels were there to be measured.
    labels = [a["label"] for f in seen["axes"]["explorer@1024"] for a in f["axes"]]
    assert any(len(label.replace(",", "")) >= 7 for label in labels), labels


def test_pages_with_the_longest_names_fit_1024_px(seen: dict[str, Any]) -> None:
    assert seen["widths"] == {
        "endpoint@1024": 1024,
        "long-endpoint@1024": 1024,
        "endpoints@1024": 1024,
        "explorer@1024": 1024,
        "logs@1024": 1024,
    }


def test_status_badges_stay_on_one_line_beside_long_names(seen: dict[str, Any]) -> None:
    assert seen["statusLines"] == [1, 1, 1]  # the long-named endpoint, pipe and xss


def test_a_long_stream_name_keeps_its_end_and_leaves_the_message_room(
    seen: dict[str, Any],
) -> None:
    long = seen["longStream"]
    assert (long["text"], long["title"]) == (LONG_STREAM, LONG_STREAM)
    assert (long["firstShown"], long["lastShown"]) == (False, True), long
    assert long["message"] >= 0.35 * long["row"], long
    # An ordinary pipeline stream name is shown whole.
    assert all(not s.startswith("…") for s in seen["pipeStreamsShown"])
    assert seen["pipeStreamsCut"] == 0


def test_explorer_title_names_the_unit(seen: dict[str, Any]) -> None:
    assert seen["bigCaption"].split("\n") == [f"{BIG_METRIC} (Maximum, 60 s)", "Microseconds"]
    assert seen["loadCaption"].split("\n") == ["Load (Average, 60 s)", "Percent"]


def test_jobs_page_answers_with_jobs_or_no_jobs(seen: dict[str, Any]) -> None:
    jobs = seen["jobs"]
    assert jobs["errors"] == []
    assert jobs["noJobs"] + jobs["tables"] >= 1


def test_jobs_page_renders_the_jobs_operations_shapes(seen: dict[str, Any]) -> None:
    assert seen["fakeJobs"] == [["train-1", "InProgress"]]
    facts = dict(zip(seen["fakeJob"][::2], seen["fakeJob"][1::2], strict=True))
    assert facts["Progress"] == (
        "Training — Training image download completed. Training in progress."
    )
    assert facts["Instances"] == "2"
    assert seen["fakeJobSteps"] == ["Starting", "Training"]


def test_jobs_page_says_no_jobs_when_the_server_lacks_the_operations(seen: dict[str, Any]) -> None:
    assert seen["missingJobs"] == (
        "No jobs: this server does not run training or transform jobs yet."
    )


def test_auto_refresh_redraws_the_endpoint_page(seen: dict[str, Any]) -> None:
    assert 4_000 <= seen["autoRefreshMs"] <= 12_000  # the 5 s setting


def test_range_picker_requeries_with_a_coarser_period(seen: dict[str, Any]) -> None:
    assert seen["weekPeriodNote"] == "Period 420 s. Latencies in milliseconds."


def test_screenshots_are_written(seen: dict[str, Any]) -> None:
    for name in ("endpoints", "endpoint", "metrics", "logs", "logs-untrusted", "jobs"):
        assert (seen["shots"] / f"{name}.png").stat().st_size > 10_000


def test_static_assets_have_their_content_types(traffic: Traffic) -> None:
    expected = {
        "/dashboard/": "text/html; charset=utf-8",
        "/dashboard/app.js": "text/javascript; charset=utf-8",
        "/dashboard/app.css": "text/css; charset=utf-8",
    }
    for path, content_type in expected.items():
        with urllib.request.urlopen(traffic.server.url + path) as resp:
            assert resp.headers["Content-Type"] == content_type
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    for path in ("/dashboard/../server.py", "/dashboard/nope.js", "/dashboard/routes.py"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(traffic.server.url + path)
        assert info.value.code == 404
        info.value.close()
