"""preprocess: the wine pipeline's first container. Scales 13 raw wine features.

A handler script for tandem's built-in runtime, written to the SageMaker inference toolkit
contract (model_fn, input_fn, predict_fn, output_fn), so the same file also runs in SageMaker's
scikit-learn image. Its model dir holds scaler.joblib (a fitted StandardScaler).

Accepts
    text/csv           one row of 13 numbers per line
    application/json   {"instances": [[13 numbers], ...]}, or a bare list of rows, or one row
Returns
    application/json   {"instances": [[13 scaled numbers], ...]}   (what the model container reads)

A request the client got wrong (bad numbers, wrong feature count, malformed JSON) raises
BadRequest, which carries status 400; an unknown content type 415; an unservable Accept 406.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import joblib
import numpy as np

N_FEATURES = 13
JSON = "application/json"
CSV = "text/csv"


class BaseInferenceToolkitError(Exception):
    """Carries the HTTP status the runtime should answer with. Named after the toolkit's class
    (sagemaker_inference.errors) because runtimes recognise that name as well as the attribute."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.phrase = message
        self.status = self.status_code


class BadRequest(BaseInferenceToolkitError):
    """The request body is wrong: the client's fault."""

    status_code = 400


class UnsupportedMediaType(BaseInferenceToolkitError):
    status_code = 415


class NotAcceptable(BaseInferenceToolkitError):
    status_code = 406


def _fail(error: BaseInferenceToolkitError) -> BaseInferenceToolkitError:
    # One clear line in the container's log stream for every rejected request.
    print(f"preprocess: rejected request ({error.status_code}): {error.message}",
          file=sys.stderr, flush=True)
    return error


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _text(body: str | bytes | bytearray | memoryview) -> str:
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _fail(BadRequest(f"body is not UTF-8 text: {error}")) from None


def _number(value: object, where: str) -> float:
    # bool is an int subclass; true/false are not features.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(BadRequest(f"{where}: {value!r} is not a number"))
    number = float(value)
    if not math.isfinite(number):
        raise _fail(BadRequest(f"{where}: {value!r} is not a finite number"))
    return number


def _checked_rows(rows: list[list[float]]) -> np.ndarray:
    if not rows:
        raise _fail(BadRequest("no rows: send at least one row of 13 features"))
    for index, row in enumerate(rows, start=1):
        if len(row) != N_FEATURES:
            raise _fail(BadRequest(
                f"row {index} has {len(row)} feature(s); expected {N_FEATURES}"))
    return np.asarray(rows, dtype=np.float64)


def _csv_rows(text: str) -> list[list[float]]:
    rows: list[list[float]] = []
    for line_number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or all(not field.strip() for field in fields):
            continue
        row: list[float] = []
        for column, field in enumerate(fields, start=1):
            try:
                row.append(float(field))
            except ValueError:
                raise _fail(BadRequest(
                    f"line {line_number}, column {column}: {field.strip()!r} is not a number"
                )) from None
            if not math.isfinite(row[-1]):
                raise _fail(BadRequest(
                    f"line {line_number}, column {column}: {field.strip()!r} is not finite"))
        rows.append(row)
    return rows


def _json_rows(text: str) -> list[list[float]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(BadRequest(f"malformed JSON: {error}")) from None
    if isinstance(document, dict):
        if "instances" not in document:
            raise _fail(BadRequest('JSON object has no "instances" key'))
        document = document["instances"]
    if not isinstance(document, list):
        raise _fail(BadRequest('expected a list of rows under "instances"'))
    # A flat list of numbers is one row.
    if document and all(not isinstance(item, list) for item in document):
        document = [document]
    rows: list[list[float]] = []
    for index, row in enumerate(document, start=1):
        if not isinstance(row, list):
            raise _fail(BadRequest(f"row {index} is not a list of numbers"))
        rows.append([_number(value, f"row {index}, feature {column}")
                     for column, value in enumerate(row, start=1)])
    return rows


def model_fn(model_dir: str) -> object:
    """Load the fitted StandardScaler from the extracted model archive."""
    return joblib.load(Path(model_dir) / "scaler.joblib")


def input_fn(input_data: str | bytes, content_type: str | None) -> np.ndarray:
    """Decode CSV or JSON rows into an (n, 13) float array."""
    media_type = _media_type(content_type) or JSON
    if media_type == CSV:
        return _checked_rows(_csv_rows(_text(input_data)))
    if media_type == JSON:
        return _checked_rows(_json_rows(_text(input_data)))
    raise _fail(UnsupportedMediaType(
        f"content type {content_type!r} is not supported; send {CSV} or {JSON}"))


def predict_fn(data: np.ndarray, model: object) -> np.ndarray:
    """Scale the rows with the training set's mean and standard deviation."""
    return model.transform(data)  # type: ignore[attr-defined, no-any-return]


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Encode the scaled rows as the JSON the model container reads."""
    accepted = [_media_type(part) for part in (accept or "").split(",")]
    if any(media_type in ("", "*/*", "application/*", JSON) for media_type in accepted):
        return json.dumps({"instances": prediction.tolist()}).encode(), JSON
    raise _fail(NotAcceptable(f"cannot produce {accept!r}; this container answers {JSON}"))
