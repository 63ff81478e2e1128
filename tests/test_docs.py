"""Docs that cannot drift: generated references are current; every seed metric is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_METRICS = [
    "Invocation4XXErrors",
    "Invocation5XXErrors",
    "Invocations",
    "InvocationsPerInstance",
    "ModelLatency",
    "OverheadLatency",
    "ContainerLatency",
    "CPUUtilization",
    "MemoryUtilization",
    "GPUUtilization",
    "GPUMemoryUtilization",
    "DiskUtilization",
]


def test_generated_docs_are_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in module.render().items():
        assert path.read_text() == text, f"{path} is stale: run scripts/gen_docs.py"


@pytest.mark.parametrize("metric", SEED_METRICS)
def test_every_seed_metric_is_documented(metric: str) -> None:
    assert re.search(rf"`{metric}`", (ROOT / "docs" / "metrics.md").read_text())


def test_every_setting_has_a_docs_entry() -> None:
    from tandem.config import SETTINGS

    text = (ROOT / "docs" / "settings.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.flag}`" in text and f"`{setting.env}`" in text


def test_every_cloudwatch_alarm_operation_is_documented() -> None:
    from tandem.api.cloudwatch.alarm_operations import ALARM_OPERATION_NAMES

    text = (ROOT / "docs" / "api-compatibility.md").read_text()
    for operation in ALARM_OPERATION_NAMES:
        assert re.search(rf"\b{operation}\b", text), operation
