"""The XGBoost built-in algorithm's pure parts: hyperparameters, channel formats, metric
definitions against the log lines it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.jobs.algorithms import xgboost_metric_definitions
from tandem.jobs.metric_definitions import MetricMatcher

xgb = pytest.importorskip("xgboost")

from tandem.jobs.algorithms.xgboost_train import (  # noqa: E402 - after the importorskip
    AlgorithmError,
    load_channel,
    train_params,
)


def test_hyperparameters_become_typed_xgboost_params():
    params, rounds, early = train_params({
        "num_round": "20", "objective": "binary:logistic", "max_depth": "5", "eta": "0.2",
        "eval_metric": "auc,logloss", "early_stopping_rounds": "3",
        "sagemaker_region": '"us-east-1"'})
    assert (rounds, early) == (20, 3)
    assert params == {"objective": "binary:logistic", "max_depth": 5, "eta": 0.2,
                      "eval_metric": ["auc", "logloss"]}


def test_json_encoded_strings_mean_the_same_value():
    params, rounds, _ = train_params({"num_round": "3", "objective": '"reg:squarederror"',
                                      "eval_metric": '"rmse,mae"'})
    assert rounds == 3
    assert params == {"objective": "reg:squarederror", "eval_metric": ["rmse", "mae"]}


@pytest.mark.parametrize(("hps", "message"), [
    ({"max_depth": "3"}, "Missing required hyperparameter: num_round"),
    ({"num_round": "ten"}, "num_round"),
    ({"num_round": "0"}, "at least 1"),
])
def test_bad_hyperparameters_are_refused(hps, message):
    with pytest.raises(AlgorithmError, match=message):
        train_params(hps)


def test_csv_channel_reads_label_first_from_every_file(tmp_path: Path):
    (tmp_path / "a.csv").write_text("1,0.5,2\n0,1.5,3\n")
    (tmp_path / "b.csv").write_text("1,,4\n")
    (tmp_path / ".hidden").write_text("junk")
    matrix = load_channel(tmp_path, {"ContentType": "text/csv"})
    assert (matrix.num_row(), matrix.num_col()) == (3, 2)
    assert matrix.get_label().tolist() == [1.0, 0.0, 1.0]


def test_libsvm_is_the_default_channel_format(tmp_path: Path):
    (tmp_path / "train").write_text("1 1:0.5 3:2\n0 2:1.5\n")
    matrix = load_channel(tmp_path, {})
    assert (matrix.num_row(), matrix.num_col()) == (2, 4)
    assert matrix.get_label().tolist() == [1.0, 0.0]


@pytest.mark.parametrize(("content_type", "text", "message"), [
    ("text/csv", "1,a\n", "not numeric CSV"),
    ("text/csv", "1,2\n1,2,3\n", "equal length"),
    ("text/csv;label_size=2", "1,2\n", "label_size must be equal to 1"),
    ("application/x-parquet", "x", "not supported"),
    ("text/libsvm", "1 a:b\n", "not libsvm"),
])
def test_bad_channels_are_refused_with_the_reason(tmp_path: Path, content_type, text, message):
    (tmp_path / "part").write_text(text)
    with pytest.raises(AlgorithmError, match=message):
        load_channel(tmp_path, {"ContentType": content_type})


def test_metric_definitions_read_both_channels_from_a_round_line():
    seen: list[tuple[str, float]] = []
    matcher = MetricMatcher(xgboost_metric_definitions(),
                            lambda name, value, when: seen.append((name, value)))
    matcher.on_line("[4]#011train-rmse:0.41235#011validation-rmse:0.44871", 1_000)
    matcher.on_line("[5]#011train-auc:0.9#011validation-auc:0.875", 2_000)
    matcher.on_line("Stored trained model at /opt/ml/model/xgboost-model", 3_000)
    assert seen == [("train:rmse", 0.41235), ("validation:rmse", 0.44871),
                    ("train:auc", 0.9), ("validation:auc", 0.875)]
