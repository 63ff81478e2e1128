"""The XGBoost built-in algorithm's training, run by a job whose TrainingImage is the XGBoost
image and which names no script (algorithm mode).

Reads the hyperparameters as SageMaker passes them (strings: ``num_round`` required,
``objective``, ``max_depth``, ``eta`` ... go to xgboost.train as params), the ``train`` and
optional ``validation`` channels as CSV (label in the first column, no header) or libsvm by
the channel's ContentType (libsvm when none, as the container does), trains, prints one line
per round as the container's log shows it (``[0]#011train-rmse:...#011validation-rmse:...``)
and saves the Booster as ``xgboost-model`` in the model directory. A bad input writes the
reason to the job's failure file and exits 1.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import xgboost as xgb
    from scipy.sparse import csr_matrix
except ImportError:  # pragma: no cover - depends on the environment
    print("the XGBoost algorithm needs xgboost, which is not installed in tandem's Python "
          "environment (pip install xgboost-cpu)", file=sys.stderr)
    raise

__all__ = ["main", "AlgorithmError", "train_params", "load_channel"]

MODEL_NAME = "xgboost-model"
# Hyperparameters the algorithm reads itself; every other one is an XGBoost parameter.
_OWN = frozenset({"num_round", "early_stopping_rounds", "csv_weights",
                  "save_model_on_termination", "_tuning_objective_metric", "_kfold",
                  "_num_cv_round", "use_dask_gpu_training"})


class AlgorithmError(Exception):
    """A hyperparameter or channel the algorithm cannot use (the job's FailureReason)."""


def _number(key: str, text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _unquoted(value: str) -> str:
    # SageMaker passes plain strings; a JSON-encoded one (as framework estimators and
    # `tandem train` write them) means the same value.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, str):
            return decoded
    return value


def train_params(hyperparameters: dict[str, str]) -> tuple[dict[str, Any], int, int | None]:
    """XGBoost params, num_round and early_stopping_rounds from the job's hyperparameters."""
    raw = {k: _unquoted(v) for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    if "num_round" not in raw:
        raise AlgorithmError("Missing required hyperparameter: num_round")
    try:
        num_round = int(raw["num_round"])
        early = int(raw["early_stopping_rounds"]) if raw.get("early_stopping_rounds") else None
    except ValueError as error:
        raise AlgorithmError(f"Hyperparameter num_round/early_stopping_rounds: {error}") from None
    if num_round < 1:
        raise AlgorithmError("Hyperparameter num_round: must be at least 1")
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _OWN:
            continue
        if key == "eval_metric":
            params[key] = [m.strip() for m in value.split(",") if m.strip()]
        else:
            params[key] = _number(key, value)
    return params, num_round, early


def _content_type(config: dict[str, Any]) -> str:
    value = str(config.get("ContentType") or "libsvm").lower()
    media_type, _, parameters = value.partition(";")
    media_type = media_type.strip()
    if media_type in ("csv", "text/csv"):
        if "label_size" in parameters and "label_size=1" not in parameters.replace(" ", ""):
            raise AlgorithmError(f"{value} is not an accepted csv ContentType. Optional "
                                 "parameter label_size must be equal to 1")
        return "csv"
    if media_type in ("libsvm", "text/libsvm", "text/x-libsvm"):
        return "libsvm"
    raise AlgorithmError(f"Content type {value} is not supported; use text/csv or text/libsvm")


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def _csv(files: list[Path]) -> Any:
    rows: list[list[float]] = []
    for path in files:
        text = path.read_text("utf-8")
        first = text.split("\n", 1)[0][:512]
        try:
            sniffed = csv.Sniffer().sniff(first).delimiter
        except csv.Error:
            sniffed = ","
        delimiter = "," if sniffed.isalnum() else sniffed
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append([float(f) if f.strip() else np.nan for f in line.split(delimiter)])
            except ValueError:
                raise AlgorithmError(f"{path.name} line {number} is not numeric CSV (the label "
                                     "in the first column, no header)") from None
    if not rows or len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        raise AlgorithmError("CSV data needs rows of equal length: the label, then features")
    array = np.array(rows, dtype=float)
    return xgb.DMatrix(array[:, 1:], label=array[:, 0])


def _libsvm(files: list[Path]) -> Any:
    labels: list[float] = []
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for path in files:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            try:
                labels.append(float(parts[0]))
                for item in parts[1:]:
                    index, value = item.split(":", 1)
                    rows.append(len(labels) - 1)
                    cols.append(int(index))
                    values.append(float(value))
            except ValueError:
                raise AlgorithmError(f"{path.name} line {number} is not libsvm "
                                     "(label index:value ...)") from None
    if not labels:
        raise AlgorithmError("no libsvm records")
    matrix = csr_matrix((np.array(values, dtype=float),
                         (np.array(rows, dtype=int), np.array(cols, dtype=int))),
                        shape=(len(labels), max(cols, default=-1) + 1))
    return xgb.DMatrix(matrix, label=np.array(labels))


def load_channel(directory: Path, config: dict[str, Any]) -> Any:
    """The channel's files as one DMatrix with labels."""
    files = _files(directory)
    if not files:
        raise AlgorithmError(f"channel {directory.name!r} holds no data files")
    return _csv(files) if _content_type(config) == "csv" else _libsvm(files)


class _RoundLog(xgb.callback.TrainingCallback):  # type: ignore[misc]
    """Prints each round's evaluation as the built-in algorithm's log line."""

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        parts = [f"[{epoch}]"]
        for data_name, metrics in evals_log.items():
            for metric_name, history in metrics.items():
                parts.append(f"{data_name}-{metric_name}:{float(history[-1]):.5f}")
        print("#011".join(parts), flush=True)
        return False


def run(env: dict[str, str]) -> None:
    config_dir = Path(env["SM_INPUT_CONFIG_DIR"])
    hyperparameters = json.loads((config_dir / "hyperparameters.json").read_text())
    channels = json.loads((config_dir / "inputdataconfig.json").read_text())
    params, num_round, early = train_params(hyperparameters)
    if "train" not in channels:
        raise AlgorithmError("The XGBoost algorithm needs a 'train' channel")
    train = load_channel(Path(env["SM_CHANNEL_TRAIN"]), channels["train"])
    evals = [(train, "train")]
    if "validation" in channels:
        validation = load_channel(Path(env["SM_CHANNEL_VALIDATION"]), channels["validation"])
        evals.append((validation, "validation"))
    elif early:
        raise AlgorithmError("early_stopping_rounds needs a 'validation' channel")
    try:
        booster = xgb.train(params, train, num_boost_round=num_round, evals=evals,
                            early_stopping_rounds=early, verbose_eval=False,
                            callbacks=[_RoundLog()])
    except xgb.core.XGBoostError as error:
        raise AlgorithmError(f"XGBoost: {str(error).splitlines()[0]}") from error
    model_dir = Path(env["SM_MODEL_DIR"])
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / MODEL_NAME))
    print(f"Stored trained model at {model_dir / MODEL_NAME}", flush=True)


def main() -> int:
    env = dict(os.environ)
    try:
        run(env)
    except AlgorithmError as error:
        print(f"ClientError: {error}", file=sys.stderr, flush=True)
        output = Path(env.get("SM_OUTPUT_DIR", "."))
        output.mkdir(parents=True, exist_ok=True)
        (output / "failure").write_text(f"ClientError: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
