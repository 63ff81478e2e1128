"""model: the wine pipeline's second container. Classifies scaled wine features.

A handler script for tandem's built-in runtime, written to the SageMaker inference toolkit
contract (model_fn, input_fn, predict_fn, output_fn). Its model dir holds model.joblib (a
GradientBoostingClassifier fitted on standardised features).

Accepts
    application/json   {"instances": [[13 scaled numbers], ...]}   (what preprocess returns)
Returns
    application/json   {"predictions": [class index, ...],
                        "probabilities": [[p(class 0), p(class 1), p(class 2)], ...]}

The class index is the position in "probabilities"; the postprocess container turns it into a
label. Bad input raises BadRequest (status 400), another content type 415, another Accept 406.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import joblib
import numpy as np

JSON = "application/json"


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
    """The request body is wrong: the caller's fault."""

    status_code = 400


class UnsupportedMediaType(BaseInferenceToolkitError):
    status_code = 415


class NotAcceptable(BaseInferenceToolkitError):
    status_code = 406


def _fail(error: BaseInferenceToolkitError) -> BaseInferenceToolkitError:
    # One clear line in the container's log stream for every rejected request.
    print(f"model: rejected request ({error.status_code}): {error.message}",
          file=sys.stderr, flush=True)
    return error


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def model_fn(model_dir: str) -> object:
    """Load the fitted classifier from the extracted model archive."""
    return joblib.load(Path(model_dir) / "model.joblib")


def input_fn(input_data: str | bytes, content_type: str | None) -> np.ndarray:
    """Decode {"instances": [[...], ...]} into a 2-D float array."""
    media_type = _media_type(content_type) or JSON
    if media_type != JSON:
        raise _fail(UnsupportedMediaType(
            f"content type {content_type!r} is not supported; send {JSON}"))
    try:
        text = input_data if isinstance(input_data, str) else bytes(input_data).decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(BadRequest(f"malformed JSON: {error}")) from None
    rows = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise _fail(BadRequest('expected {"instances": [[number, ...], ...]} with one row or more'))
    width = len(rows[0]) if isinstance(rows[0], list) else -1
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != width or not all(
            not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            for value in row
        ):
            raise _fail(BadRequest(
                f"row {index} is not a list of {max(width, 0)} finite numbers like row 1"))
    return np.asarray(rows, dtype=np.float64)


def predict_fn(data: np.ndarray, model: object) -> dict[str, list]:
    """Class probabilities per row, and the index of the most probable class."""
    expected = model.n_features_in_  # type: ignore[attr-defined]
    if data.shape[1] != expected:
        raise _fail(BadRequest(f"rows have {data.shape[1]} feature(s); expected {expected}"))
    probabilities = model.predict_proba(data)  # type: ignore[attr-defined]
    return {
        "predictions": np.argmax(probabilities, axis=1).tolist(),
        "probabilities": probabilities.tolist(),
    }


def output_fn(prediction: dict[str, list], accept: str | None) -> tuple[bytes, str]:
    """Encode the predictions as JSON for the postprocess container."""
    accepted = [_media_type(part) for part in (accept or "").split(",")]
    if any(media_type in ("", "*/*", "application/*", JSON) for media_type in accepted):
        return json.dumps(prediction).encode(), JSON
    raise _fail(NotAcceptable(f"cannot produce {accept!r}; this container answers {JSON}"))
