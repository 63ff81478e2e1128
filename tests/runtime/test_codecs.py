"""Default decoders/encoders against a naive recomputation."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.runtime import UnsupportedFormatError, codecs

rows = st.lists(st.lists(st.integers(-10**6, 10**6), min_size=3, max_size=3), min_size=1,
                max_size=8)


@given(rows)
def test_json_round_trip_equals_the_input(values):
    decoded = codecs.decode(json.dumps(values), codecs.JSON)
    assert json.loads(codecs.encode(decoded, codecs.JSON)) == values


@given(rows)
def test_csv_decodes_like_a_naive_parser(values):
    text = "\n".join(",".join(str(v) for v in row) for row in values)
    decoded = codecs.decode(text, codecs.CSV)
    assert np.atleast_2d(decoded).tolist() == [[float(v) for v in row] for row in values]


def test_npy_refuses_pickled_object_arrays():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        codecs.decode(buffer.getvalue(), codecs.NPY)


def test_json_encodes_numpy_scalars_inside_lists():
    assert codecs.encode([np.float32(1.5), np.int64(2)], codecs.JSON) == "[1.5, 2]"


def test_parse_accept_drops_spaces():
    assert codecs.parse_accept("text/csv, application/json") == ["text/csv", "application/json"]


@pytest.mark.parametrize("function", [codecs.decode, codecs.encode])
def test_unknown_types_are_unsupported(function):
    with pytest.raises(UnsupportedFormatError, match="text/csv; charset=utf-8"):
        function(b"1", "text/csv; charset=utf-8")
