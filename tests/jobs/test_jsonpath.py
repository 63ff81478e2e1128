"""The DataProcessing JSONPath subset against Python's own indexing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.jobs.jsonpath import JsonPathError, parse_jsonpath

DOC = {"features": [1, 2, 3, 4], "id": "a", "nested": {"x": [5, 6]}, "with space": 7}


@pytest.mark.parametrize(("path", "expected"), [
    ("$", DOC),
    ("$.id", "a"),
    ("$['id']", "a"),
    ('$["with space"]', 7),
    ("$['id','features']", ["a", [1, 2, 3, 4]]),
    ("$.features[0]", 1),
    ("$.features[-1]", 4),
    ("$.features[1:3]", [2, 3]),
    ("$.features[1:]", [2, 3, 4]),
    ("$.features[:-1]", [1, 2, 3]),
    ("$.features[0,2]", [1, 3]),
    ("$.nested.x[1]", 6),
])
def test_paths_select_like_sagemaker(path: str, expected: object) -> None:
    assert parse_jsonpath(path).apply(DOC) == expected


@pytest.mark.parametrize("path", ["features", "$..id", "$.*", "$[?(@.a)]", "$[1:2:3]", "$["])
def test_outside_the_subset_is_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse_jsonpath(path)


def test_missing_field_and_index_name_the_problem() -> None:
    with pytest.raises(JsonPathError, match="no field 'nope'"):
        parse_jsonpath("$.nope").apply(DOC)
    with pytest.raises(JsonPathError, match="index 9 is out of range"):
        parse_jsonpath("$[9]").apply([1])


@given(st.lists(st.integers(), max_size=8), st.integers(-10, 10) | st.none(),
       st.integers(-10, 10) | st.none())
def test_slices_equal_python_slicing(items: list[int], start: int | None,
                                     stop: int | None) -> None:
    text = f"$[{'' if start is None else start}:{'' if stop is None else stop}]"
    assert parse_jsonpath(text).apply(items) == items[start:stop]
