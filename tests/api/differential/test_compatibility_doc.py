"""docs/api-compatibility.md cannot drift: every served operation and every declared difference
from moto has its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.api.logs import SHAPES as LOGS_SHAPES
from tandem.api.sagemaker import SHAPES as SAGEMAKER_SHAPES
from tandem.api.tags import LOGS_SHAPES as LOGS_TAG_SHAPES
from tandem.api.tags import SAGEMAKER_SHAPES as SAGEMAKER_TAG_SHAPES

from .cases import CASES

DOC = (Path(__file__).resolve().parents[3] / "docs" / "api-compatibility.md").read_text()


@pytest.mark.parametrize(
    "operation",
    [*SAGEMAKER_SHAPES, *LOGS_SHAPES, *SAGEMAKER_TAG_SHAPES, *LOGS_TAG_SHAPES, "StartLiveTail",
     "InvokeEndpoint", "TagResource", "UntagResource", "ListTagsForResource"],
)
def test_every_served_operation_is_documented(operation: str) -> None:
    assert operation in DOC


@pytest.mark.parametrize(
    ("case", "path", "reason"), [(c.name, p, r) for c in CASES for p, r in c.differences.items()]
)
def test_every_declared_difference_is_documented(case: str, path: str, reason: str) -> None:
    assert f"| `{case}` | `{path}` | {reason} |" in DOC
