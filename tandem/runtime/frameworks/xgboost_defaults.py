"""The XGBoost image's defaults: the built-in algorithm's serving (sagemaker-xgboost-container).

model_fn loads ``xgboost-model`` (or the model directory's one file) saved either way the
container accepts: a pickled Booster, or Booster.save_model's JSON, UBJSON or binary format.
input_fn reads text/csv (features only, no label) and text/libsvm / text/x-libsvm (1-based
indices shift to 0 as the container does); a body it cannot parse answers 415. output_fn
answers text/csv (one prediction per line, the default Accept), application/json
(``{"predictions": [{"score": ...}]}``) and application/jsonlines; under batch transform
(SAGEMAKER_BATCH) one prediction per line whatever the Accept.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import pickle
from typing import Any

import numpy as np

from ..errors import GenericInferenceToolkitError, UnsupportedFormatError
from . import FrameworkDefaults

try:
    import xgboost as xgb
    from scipy.sparse import csr_matrix
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the XGBoost image's default handler needs xgboost, which is not installed in "
        "tandem's Python environment (pip install xgboost-cpu)"
    ) from error

__all__ = ["DEFAULTS", "parse_libsvm", "parse_csv"]

log = logging.getLogger("tandem.runtime")

CSV = "text/csv"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
MODEL_FILENAME = "xgboost-model"
# The request's media type rides on the DMatrix, so input_fn returns a plain DMatrix (what a
# user's predict_fn expects, as in the container's framework mode).
_MEDIA_TYPE = "_tandem_media_type"


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _model_file(model_dir: str) -> str:
    if os.path.isfile(os.path.join(model_dir, MODEL_FILENAME)):
        return os.path.join(model_dir, MODEL_FILENAME)
    files = sorted(name for name in os.listdir(model_dir)
                   if not name.startswith(".") and os.path.isfile(os.path.join(model_dir, name)))
    if not files:
        raise FileNotFoundError(f"no model file in {model_dir} (the built-in algorithm writes "
                                f"{MODEL_FILENAME!r})")
    return os.path.join(model_dir, files[0])


def model_fn(model_dir: str) -> Any:
    selected = os.environ.get("SAGEMAKER_INFERENCE_OUTPUT", "").strip()
    if selected:
        raise NotImplementedError(
            f"SAGEMAKER_INFERENCE_OUTPUT={selected!r}: the XGBoost image's selectable inference "
            "output is not supported by tandem; remove the variable to get the raw predictions")
    path = _model_file(model_dir)
    log.info("Loading the model from %s", path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        # The model artifact is the user's own (as in the container), not request input.
        booster = pickle.loads(data)  # noqa: S301
    except Exception as pickle_error:  # noqa: BLE001 - not a pickle: try save_model's formats
        try:
            # From memory, xgboost tells JSON, UBJSON and binary apart by their content.
            booster = xgb.Booster()
            booster.load_model(bytearray(data))
        except Exception as xgb_error:
            raise RuntimeError(f"Model {path} cannot be loaded:\nPickle load error="
                               f"{pickle_error}\nXGB load model error={xgb_error}") from xgb_error
    if not isinstance(booster, xgb.Booster):
        raise RuntimeError(f"Model {path} unpickles to {type(booster).__name__}, not an "
                           "xgboost Booster")
    booster.set_param("nthread", 1)
    return booster


def parse_csv(text: str) -> Any:
    """CSV rows of features as a float array; empty fields are missing values (NaN)."""
    first = text.split("\n", 1)[0][:512]
    try:
        sniffed = csv.Sniffer().sniff(first).delimiter
    except csv.Error:
        sniffed = ","
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [[float(field) if field.strip() else np.nan for field in line.split(delimiter)]
            for line in text.split("\n") if line.strip()]
    return np.array(rows, dtype=float)


def parse_libsvm(text: str) -> Any:
    """libsvm lines (a leading label is ignored) as a CSR matrix with 0-based columns."""
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, line in enumerate(text.split("\n")):
        for item in line.split():
            if ":" in item:
                index, value = item.split(":", 1)
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    columns = np.array(cols, dtype=int)
    if len(columns) and columns.min() >= 1:
        columns = columns - 1
    return csr_matrix((np.array(values, dtype=float), (np.array(rows, dtype=int), columns)))


def input_fn(input_data: str | bytes, content_type: str) -> Any:
    media_type = _media_type(content_type)
    text = (input_data.decode("utf-8") if isinstance(input_data, bytes) else input_data).strip()
    if not text and media_type in (CSV, LIBSVM, X_LIBSVM):
        # The container answers an empty body with 204; a client that sent none made a mistake.
        raise GenericInferenceToolkitError(400, "The request body is empty: send one or more "
                                           f"{media_type} rows")
    if media_type == CSV:
        try:
            dtest = xgb.DMatrix(parse_csv(text))
        except Exception as error:
            raise GenericInferenceToolkitError(415, "Loading csv data failed with Exception, "
                                               f"please ensure data is in csv format: {error}"
                                               ) from error
    if media_type in (LIBSVM, X_LIBSVM):
        try:
            dtest = xgb.DMatrix(parse_libsvm(text))
        except Exception as error:
            raise GenericInferenceToolkitError(415, "Loading libsvm data failed with "
                                               "Exception, please ensure data is in libsvm "
                                               f"format: {error}") from error
    if media_type in (CSV, LIBSVM, X_LIBSVM):
        setattr(dtest, _MEDIA_TYPE, media_type)
        return dtest
    if media_type == RECORDIO_PROTOBUF:
        raise GenericInferenceToolkitError(415, f"Content-type {content_type} is not supported "
                                           "by tandem's XGBoost serving; send text/csv or "
                                           "text/libsvm")
    raise UnsupportedFormatError(content_type)


def predict_fn(data: Any, model: Any) -> Any:
    # The width check applies to requests this module decoded (a user's input_fn may differ).
    media_type = getattr(data, _MEDIA_TYPE, None)
    if media_type is not None and isinstance(model, xgb.Booster):
        features, columns = model.num_features(), data.num_col()
        if media_type == CSV and columns not in (features, features + 1):
            raise GenericInferenceToolkitError(
                400, f"Unable to evaluate payload provided: Feature size of csv inference data "
                f"{columns} is not consistent with feature size of trained model {features}.")
        if media_type != CSV and columns > features + 1:
            raise GenericInferenceToolkitError(
                400, f"Unable to evaluate payload provided: Feature size of libsvm inference "
                f"data {columns} is larger than feature size of trained model {features}.")
    try:
        return model.predict(data, validate_features=False)
    except Exception as error:
        raise GenericInferenceToolkitError(
            400, f"Unable to evaluate payload provided: {error}") from error


def _csv_lines(values: list[Any]) -> str:
    stream = io.StringIO()
    np.savetxt(stream, np.array(values), delimiter=",", fmt="%s")
    return stream.getvalue()


def output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    values = prediction.tolist()
    media_type = _media_type(accept.split(",", 1)[0])
    if os.environ.get("SAGEMAKER_BATCH"):
        return "\n".join(map(str, values)) + "\n", media_type
    if media_type == CSV:
        return _csv_lines(values), CSV
    if media_type == JSON:
        return json.dumps({"predictions": [{"score": value} for value in values]}), JSON
    if media_type == JSONLINES:
        return "".join(json.dumps(value) + "\n" for value in values), JSONLINES
    if media_type == RECORDIO_PROTOBUF:
        raise GenericInferenceToolkitError(406, f"Accept type {accept} is not supported by "
                                           "tandem's XGBoost serving; use text/csv, "
                                           "application/json or application/jsonlines")
    raise GenericInferenceToolkitError(
        406, f"Accept type {accept} is not supported. Please use supported accept types: "
        f"{[JSON, JSONLINES, RECORDIO_PROTOBUF, CSV]}.")


DEFAULTS = FrameworkDefaults(model_fn, input_fn, predict_fn, output_fn, default_accept=CSV)
