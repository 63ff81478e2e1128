"""Batch transform input and output, without I/O policy: files, records, mini-batches, assembly.

- ``list_input_files``: what a TransformInput's DataSource names (S3Prefix: a directory, a file
  or a name prefix; ManifestFile: SageMaker's manifest, ``[{"prefix": ...}, "rel", ...]``), each
  with the relative name its ``.out`` gets below the output path.
- ``split_records`` (SplitType None|Line), ``plan_batches`` (BatchStrategy SingleRecord|MultiRecord
  within MaxPayloadInMB), ``split_response`` (a MultiRecord answer back into per-record outputs),
  ``assemble`` (AssembleWith None|Line).
- ``RecordProcessor``: DataProcessing's InputFilter, JoinSource and OutputFilter on CSV or JSON
  records, as SageMaker applies them.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ValidationException
from .jsonpath import JsonPath, JsonPathError, parse_jsonpath
from .locations import local_path

__all__ = [
    "InputFile",
    "RecordError",
    "list_input_files",
    "read_payload",
    "split_records",
    "plan_batches",
    "join_records",
    "split_response",
    "assemble",
    "RecordProcessor",
]

MB = 1024 * 1024
_CSV_TYPES = ("text/csv",)


class RecordError(Exception):
    """A record or a response that cannot be processed; the message is for the data log."""


@dataclasses.dataclass(frozen=True)
class InputFile:
    path: Path
    relative: str  # below the input prefix, POSIX; the output is <output path>/<relative>.out


def _walk(directory: Path) -> list[InputFile]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            found.append(InputFile(path, path.relative_to(directory).as_posix()))
    return found


_INPUT_FIELD = "TransformInput.DataSource.S3DataSource.S3Uri"


def list_input_files(s3_uri: str, data_type: str, base_dir: Path,
                     field: str = _INPUT_FIELD,
                     stage: Callable[[str], str] | None = None) -> list[InputFile]:
    """The input files, sorted by relative name; a ValidationException names the field.
    ``stage`` turns an s3:// manifest prefix into a local path (the object store's)."""
    path = local_path(s3_uri, base_dir, field=field)
    if data_type == "ManifestFile":
        return _manifest(path, base_dir, field, stage)
    if data_type != "S3Prefix":
        raise ValidationException(f"{field.rsplit('.', 1)[0]}.S3DataType: {data_type!r} is not "
                                  "supported; use S3Prefix or ManifestFile")
    if path.is_dir():
        files = _walk(path)
    elif path.is_file():
        files = [InputFile(path, path.name)]
    else:
        # An S3 prefix that is not a "directory": every file whose name starts with it.
        parent = path.parent
        files = [f for f in _walk(parent) if f.relative.startswith(path.name)] \
            if parent.is_dir() else []
    if not files:
        raise ValidationException(f"{field}: no input files found at {s3_uri!r} ({path})")
    return files


def _manifest(path: Path, base_dir: Path, field: str,
              stage: Callable[[str], str] | None) -> list[InputFile]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationException(f"{field}: cannot read the manifest {path}: {exc}") from None
    if (not isinstance(document, list) or not document or not isinstance(document[0], dict)
            or not isinstance(document[0].get("prefix"), str)
            or not all(isinstance(item, str) for item in document[1:])):
        raise ValidationException(f"{field}: the manifest {path} must be a JSON list "
                                  '[{"prefix": "<path>"}, "<relative name>", ...]')
    location = document[0]["prefix"]
    if stage is not None and location.strip().lower().startswith("s3://"):
        location = stage(location)
    prefix = local_path(location, path.parent, field=f"{field} (manifest prefix)")
    files = []
    for relative in document[1:]:
        target = Path(os.path.normpath(prefix / relative))
        if not target.is_file():
            raise ValidationException(f"{field}: the manifest lists {relative!r}, but {target} "
                                      "is not a file")
        files.append(InputFile(target, relative.lstrip("/")))
    return files


def read_payload(path: Path, compression: str) -> bytes:
    data = path.read_bytes()
    if compression == "Gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise RecordError(f"cannot decompress (CompressionType Gzip): {exc}") from None
    return data


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """SplitType None: the whole object is one record; Line: one record per non-empty line."""
    if split_type == "None":
        return [data] if data else []
    lines = data.split(b"\n")
    return [line[:-1] if line.endswith(b"\r") else line for line in lines if line.strip()]


def join_records(records: Sequence[bytes], split_type: str) -> bytes:
    if split_type == "None":
        return b"".join(records)
    return b"\n".join(records)


def plan_batches(sizes: Sequence[int], strategy: str, max_payload_mb: int) -> list[range]:
    """Consecutive record ranges, one per request. MultiRecord packs records (joined by one
    newline) up to MaxPayloadInMB; 0 means no limit. A record alone over the limit is an error."""
    limit = max_payload_mb * MB if max_payload_mb else None
    for i, size in enumerate(sizes):
        if limit is not None and size > limit:
            raise RecordError(f"record {i + 1} is {size} bytes, more than MaxPayloadInMB="
                              f"{max_payload_mb}")
    if strategy == "SingleRecord":
        return [range(i, i + 1) for i in range(len(sizes))]
    batches: list[range] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        extra = size + (1 if i > start else 0)
        if limit is not None and i > start and total + extra > limit:
            batches.append(range(start, i))
            start, total, extra = i, 0, size
        total += extra
    if start < len(sizes):
        batches.append(range(start, len(sizes)))
    return batches


def split_response(body: bytes, count: int) -> list[bytes]:
    """A MultiRecord response as ``count`` per-record outputs (one per line)."""
    if count == 1:
        return [body[:-1] if body.endswith(b"\n") else body]
    lines = split_records(body, "Line")
    if len(lines) != count:
        raise RecordError(f"the response holds {len(lines)} line(s) for {count} records, so "
                          "outputs cannot be joined or filtered record by record")
    return lines


def assemble(outputs: Sequence[bytes], assemble_with: str) -> bytes:
    """AssembleWith None: concatenated; Line: a newline after every output that lacks one."""
    if assemble_with == "None":
        return b"".join(outputs)
    return b"".join(o if o.endswith(b"\n") else o + b"\n" for o in outputs)


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _parse(record: bytes, csv_format: bool) -> Any:
    text = record.decode("utf-8")
    if csv_format:
        rows = list(csv.reader(io.StringIO(text)))
        if len(rows) != 1:
            raise RecordError(f"a CSV record must be one line, got {len(rows)}")
        return rows[0]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RecordError(f"the record is not JSON: {exc}") from None


def _render(value: Any, csv_format: bool) -> bytes:
    if csv_format:
        buffer = io.StringIO()
        row = value if isinstance(value, list) else [value]
        csv.writer(buffer, lineterminator="").writerow(
            [json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v
             for v in row])
        return buffer.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()


@dataclasses.dataclass(frozen=True)
class RecordProcessor:
    """DataProcessing: InputFilter before the model, JoinSource and OutputFilter after it."""

    input_filter: JsonPath
    join_input: bool
    output_filter: JsonPath
    input_csv: bool
    output_csv: bool

    @classmethod
    def create(cls, data_processing: Any, content_type: str | None,
               accept: str | None) -> RecordProcessor:
        spec = data_processing or {}
        if not isinstance(spec, dict):
            raise ValidationException("DataProcessing must be a structure")
        join = spec.get("JoinSource", "None")
        if join not in ("None", "Input"):
            raise ValidationException(f"DataProcessing.JoinSource: {join!r} is not None or Input")
        input_filter = parse_jsonpath(spec.get("InputFilter", "$"), "DataProcessing.InputFilter")
        output_filter = parse_jsonpath(spec.get("OutputFilter", "$"), "DataProcessing.OutputFilter")
        return cls(input_filter, join == "Input", output_filter,
                   _media(content_type) in _CSV_TYPES, _media(accept) in _CSV_TYPES)

    @property
    def filters_input(self) -> bool:
        return not self.input_filter.is_identity

    @property
    def per_record_output(self) -> bool:
        """Whether outputs must be matched to their input records (join or output filter)."""
        return self.join_input or not self.output_filter.is_identity

    def filter_input(self, record: bytes) -> bytes:
        if self.input_filter.is_identity:
            return record
        return _render(self._select(self.input_filter, _parse(record, self.input_csv)),
                       self.input_csv)

    def finish(self, record: bytes, output: bytes) -> bytes:
        """The output line for one record: joined with its input, then filtered."""
        if not self.per_record_output:
            return output
        if self.join_input:
            source = _parse(record, self.input_csv)
            if self.input_csv:
                if not self.output_csv:
                    raise RecordError("JoinSource Input with text/csv input needs text/csv "
                                      "output (TransformOutput.Accept)")
                joined: Any = source + _parse(output, True)
            else:
                result = _parse(output, False) if not self.output_csv else \
                    _parse(output, True)
                if isinstance(source, dict):
                    joined = {**source, "SageMakerOutput": result}
                elif isinstance(source, list):
                    joined = source + (result if isinstance(result, list) else [result])
                else:
                    raise RecordError("JoinSource Input needs JSON objects or arrays as records")
            csv_format = self.input_csv
        else:
            joined, csv_format = _parse(output, self.output_csv), self.output_csv
        return _render(self._select(self.output_filter, joined), csv_format)

    @staticmethod
    def _select(path: JsonPath, value: Any) -> Any:
        try:
            return path.apply(value)
        except JsonPathError as exc:
            raise RecordError(exc.message) from None
