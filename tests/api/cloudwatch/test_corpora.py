"""Request parsers from corpora: each ``corpus/<protocol>/NNN_*.{form,hex}`` beside the
``.json`` holding its operation and parsed members (timestamps as epoch seconds)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tandem.api.cloudwatch import cbor, query

CORPUS = Path(__file__).parent / "corpus"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("case", sorted(CORPUS.glob("query/*.form")), ids=lambda p: p.stem)
def test_query_corpus(case: Path) -> None:
    expected = json.loads(case.with_suffix(".json").read_text())
    operation, params = query.decode_form(case.read_text().strip().encode())
    assert operation == expected["operation"]
    parsed = query.decode(operation, params)
    assert _same(parsed, expected["params"]), parsed


@pytest.mark.parametrize("case", sorted(CORPUS.glob("cbor/*.hex")), ids=lambda p: p.stem)
def test_cbor_corpus(case: Path) -> None:
    expected = json.loads(case.with_suffix(".json").read_text())
    parsed = cbor.decode(expected["operation"], bytes.fromhex(case.read_text().strip()))
    assert _same(parsed, expected["params"]), parsed


def test_cbor_operation_uses_last_four_path_segments() -> None:
    assert cbor.operation_from_path(
        "/prefix/x/service/GraniteServiceVersion20100801/operation/ListMetrics"
    ) == ("GraniteServiceVersion20100801", "ListMetrics")
    assert cbor.operation_from_path("/service/S/ops/ListMetrics") is None
