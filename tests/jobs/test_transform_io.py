"""Records, mini-batches, assembly and DataProcessing of batch transform."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.errors import ValidationException
from tandem.jobs.transform_io import (
    MB,
    RecordError,
    RecordProcessor,
    assemble,
    list_input_files,
    plan_batches,
    read_payload,
    split_records,
    split_response,
)


def test_line_split_drops_blank_lines_and_carriage_returns() -> None:
    assert split_records(b"a,1\r\nb,2\n\nc,3", "Line") == [b"a,1", b"b,2", b"c,3"]
    assert split_records(b"whole\nfile\n", "None") == [b"whole\nfile\n"]
    assert split_records(b"", "None") == []


def test_gzip_input_is_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"1\n2\n"))
    assert read_payload(path, "Gzip") == b"1\n2\n"
    path.write_bytes(b"not gzip")
    with pytest.raises(RecordError, match="Gzip"):
        read_payload(path, "Gzip")


def _naive_batches(sizes: list[int], limit: int) -> list[range]:
    batches, current = [], []
    for i, size in enumerate(sizes):
        joined = sum(sizes[j] for j in current) + len(current) + size
        if current and joined > limit:
            batches.append(range(current[0], current[-1] + 1))
            current = []
        current.append(i)
    if current:
        batches.append(range(current[0], current[-1] + 1))
    return batches


@given(st.lists(st.integers(1, MB), max_size=30), st.integers(1, 3))
def test_multi_record_batches_equal_a_naive_packing(sizes: list[int], limit_mb: int) -> None:
    assert plan_batches(sizes, "MultiRecord", limit_mb) == _naive_batches(sizes, limit_mb * MB)


def test_single_record_and_oversized_records() -> None:
    assert plan_batches([3, 4], "SingleRecord", 6) == [range(0, 1), range(1, 2)]
    assert plan_batches([MB, MB], "MultiRecord", 0) == [range(0, 2)]  # 0 = no limit
    with pytest.raises(RecordError, match="more than MaxPayloadInMB=1"):
        plan_batches([MB + 1], "SingleRecord", 1)


def test_assemble_with_line_adds_one_newline_where_missing() -> None:
    assert assemble([b"a", b"b\n"], "Line") == b"a\nb\n"
    assert assemble([b"a", b"b"], "None") == b"ab"


def test_split_response_needs_one_line_per_record() -> None:
    assert split_response(b"x\ny\n", 2) == [b"x", b"y"]
    assert split_response(b"{\"a\": 1}\n", 1) == [b"{\"a\": 1}"]
    with pytest.raises(RecordError, match="1 line"):
        split_response(b"x\n", 2)


def test_csv_input_filter_join_and_output_filter() -> None:
    processor = RecordProcessor.create(
        {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        "text/csv", "text/csv")
    assert processor.filter_input(b"id7,1.5,2.5") == b"1.5,2.5"
    assert processor.finish(b"id7,1.5,2.5", b"class_1,0.9") == b"id7,0.9"


def test_json_join_adds_sagemaker_output_then_filters() -> None:
    processor = RecordProcessor.create(
        {"InputFilter": "$.features", "JoinSource": "Input",
         "OutputFilter": "$['id','SageMakerOutput']"}, "application/json", "application/json")
    record = b'{"id": 1, "features": [1, 2]}'
    assert processor.filter_input(record) == b"[1,2]"
    out = processor.finish(record, b'{"p": 0.5}')
    assert json.loads(out) == [1, {"p": 0.5}]


def test_identity_processing_leaves_bytes_alone() -> None:
    processor = RecordProcessor.create(None, "text/csv", None)
    assert not processor.filters_input and not processor.per_record_output
    assert processor.finish(b"in", b"out\n") == b"out\n"


def test_input_files_prefix_directory_and_manifest(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "b.csv").write_text("1\n")
    (tmp_path / "in" / "sub" / "a.csv").write_text("2\n")
    (tmp_path / "in" / ".hidden").write_text("x")
    files = list_input_files("in", "S3Prefix", tmp_path)
    assert [f.relative for f in files] == ["b.csv", "sub/a.csv"]
    assert [f.relative for f in list_input_files(f"file://{tmp_path}/in/b", "S3Prefix",
                                                 tmp_path)] == ["b.csv"]
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"prefix": str(tmp_path / "in") + "/"}, "sub/a.csv"]))
    files = list_input_files(str(manifest), "ManifestFile", tmp_path)
    assert [(f.relative, f.path) for f in files] == [("sub/a.csv", tmp_path / "in/sub/a.csv")]
    with pytest.raises(ValidationException, match="no input files"):
        list_input_files("nothing-here", "S3Prefix", tmp_path)
    with pytest.raises(ValidationException, match="local path"):
        list_input_files("s3://bucket/key", "S3Prefix", tmp_path)
