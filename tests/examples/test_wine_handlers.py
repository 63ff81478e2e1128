"""The two handler scripts, called the way the inference toolkit calls them (model_fn from the
extracted archive, then input_fn -> predict_fn -> output_fn, each response feeding the next
container), agree with scikit-learn's own pipeline and reject bad requests with a 4xx status."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from examples.wine_pipeline.samples import load_samples
from examples.wine_pipeline.train import GRADIENT_BOOSTING_PARAMS

JSON = "application/json"


@pytest.fixture(scope="session")
def reference() -> Pipeline:
    """scikit-learn's own pipeline, fitted independently of train.py's archives."""
    wine = load_wine()
    return make_pipeline(
        StandardScaler(), GradientBoostingClassifier(**GRADIENT_BOOSTING_PARAMS)
    ).fit(wine.data, wine.target)


@pytest.fixture(scope="session")
def loaded(preprocess: ModuleType, model: ModuleType, model_dirs: dict[str, Path]):
    return preprocess.model_fn(str(model_dirs["preprocess"])), model.model_fn(
        str(model_dirs["model"]))


@pytest.fixture(scope="session")
def labels(model_dirs: dict[str, Path]) -> list[str]:
    return json.loads((model_dirs["postprocess"] / "labels.json").read_text())


@pytest.fixture(scope="session")
def chain(preprocess, model, postprocess, loaded, labels):
    """Serial pipeline in process: preprocess -> model -> postprocess's own decoding."""
    scaler, classifier = loaded

    def run(body: str | bytes, content_type: str) -> tuple[dict, list[dict]]:
        data = preprocess.input_fn(body, content_type)
        hop1, type1 = preprocess.output_fn(preprocess.predict_fn(data, scaler), None)
        assert type1 == JSON
        # An intermediate container gets no client Accept: it falls back to JSON.
        hop2, type2 = model.output_fn(model.predict_fn(model.input_fn(hop1, type1), classifier),
                                      JSON)
        assert type2 == JSON
        predictions, probabilities = postprocess.parse_model_output(hop2, len(labels))
        return json.loads(hop2), postprocess.labelled(labels, predictions, probabilities)

    return run


def _csv(rows) -> str:
    return "".join(",".join(repr(float(x)) for x in row) + "\n" for row in rows)


def test_every_wine_sample_through_the_chain_equals_sklearn(chain, reference, labels):
    data = load_wine().data
    model_output, results = chain(_csv(data), "text/csv")
    expected = reference.predict(data).tolist()
    assert model_output["predictions"] == expected
    # JSON carries floats exactly (repr round-trips), so the probabilities match bit for bit.
    assert model_output["probabilities"] == reference.predict_proba(data).tolist()
    assert [r["label"] for r in results] == [labels[k] for k in expected]


def test_known_sample_gives_sklearns_label_probability_and_distribution(chain, reference):
    row = load_wine().data[59]
    _, (result,) = chain(json.dumps({"instances": [row.tolist()]}), JSON)
    (probabilities,) = reference.predict_proba([row]).tolist()
    assert reference.predict([row]).tolist() == [1]
    assert result == {
        "label": "class_1",
        "probability": probabilities[1],
        "probabilities": dict(zip(["class_0", "class_1", "class_2"], probabilities, strict=True)),
    }


@pytest.mark.parametrize("sample", [s for s in load_samples() if s.ok], ids=lambda s: s.name)
def test_good_sample_requests_give_their_manifest_labels(chain, sample):
    _, results = chain(sample.body, sample.content_type)
    assert tuple(r["label"] for r in results) == sample.labels


@pytest.mark.parametrize("sample", [s for s in load_samples() if not s.ok], ids=lambda s: s.name)
def test_bad_sample_requests_are_rejected_by_their_manifest_container(
    preprocess, sample, capsys
):
    assert sample.container == "preprocess"
    with pytest.raises(preprocess.BadRequest) as raised:
        preprocess.input_fn(sample.body, sample.content_type)
    assert raised.value.status_code == sample.status == 400
    assert capsys.readouterr().err == (
        f"preprocess: rejected request (400): {raised.value.message}\n")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=13, max_size=13),
                min_size=1, max_size=4))
def test_any_rows_via_csv_or_json_predict_like_sklearn(chain, reference, rows):
    expected = reference.predict(np.asarray(rows)).tolist()
    assert chain(_csv(rows), "text/csv")[0]["predictions"] == expected
    assert chain(json.dumps({"instances": rows}), JSON)[0]["predictions"] == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40).filter(lambda n: n != 13), st.sampled_from(["text/csv", JSON]))
def test_wrong_feature_count_is_a_400_naming_the_count(preprocess, n, content_type):
    row = [1.5] * n
    body = _csv([row]) if content_type == "text/csv" else json.dumps({"instances": [row]})
    with pytest.raises(preprocess.BadRequest) as raised:
        preprocess.input_fn(body, content_type)
    assert raised.value.status_code == 400
    assert str(raised.value) == f"row 1 has {n} feature(s); expected 13"


@pytest.mark.parametrize("body, content_type, message", [
    ('{"instances": [[1, 2,', JSON,
     "malformed JSON: Expecting value: line 1 column 22 (char 21)"),
    ('{"rows": []}', JSON, 'JSON object has no "instances" key'),
    ('{"instances": []}', JSON, "no rows: send at least one row of 13 features"),
    ('{"instances": [[1, 2, "x"]]}', JSON, "row 1, feature 3: 'x' is not a number"),
    ('{"instances": [[true]]}', JSON, "row 1, feature 1: True is not a number"),
    ('[NaN, 1]', JSON, "row 1, feature 1: nan is not a finite number"),
    ("1,2,x\n", "text/csv", "line 1, column 3: 'x' is not a number"),
    ("1,2,inf\n", "text/csv", "line 1, column 3: 'inf' is not finite"),
    ("\n\n", "text/csv", "no rows: send at least one row of 13 features"),
    (b"\xff\xfe", "text/csv", "body is not UTF-8 text: 'utf-8' codec can't decode byte 0xff "
                              "in position 0: invalid start byte"),
])
def test_preprocess_rejects_bad_bodies_with_400(preprocess, body, content_type, message):
    with pytest.raises(preprocess.BadRequest) as raised:
        preprocess.input_fn(body, content_type)
    assert (raised.value.status_code, raised.value.status, str(raised.value)) == (
        400, 400, message)


def test_preprocess_accepts_bytes_charset_bare_rows_and_a_single_row(preprocess):
    row = load_wine().data[0].tolist()
    expected = np.asarray([row])
    for body, content_type in [
        (_csv([row]).encode(), "text/csv; charset=utf-8"),
        (json.dumps({"instances": [row]}).encode(), JSON),
        (json.dumps([row]), JSON),
        (json.dumps(row), JSON),
        (json.dumps({"instances": [row]}), None),  # no Content-Type: JSON, as in SC serving
    ]:
        np.testing.assert_array_equal(preprocess.input_fn(body, content_type), expected)


def test_preprocess_refuses_other_content_types_with_415_and_accepts_with_406(preprocess, loaded):
    with pytest.raises(preprocess.UnsupportedMediaType) as raised:
        preprocess.input_fn("1,2", "text/plain")
    assert raised.value.status_code == 415
    scaled = preprocess.predict_fn(np.zeros((1, 13)), loaded[0])
    with pytest.raises(preprocess.NotAcceptable) as refused:
        preprocess.output_fn(scaled, "text/csv")
    assert refused.value.status_code == 406
    for accept in (None, "", "*/*", JSON, "text/csv, application/json;q=0.9"):
        body, content_type = preprocess.output_fn(scaled, accept)
        assert content_type == JSON
        assert json.loads(body) == {"instances": scaled.tolist()}


def test_errors_carry_the_toolkit_contract(preprocess, model):
    for module in (preprocess, model):
        error = module.BadRequest("nope")
        assert (error.status_code, error.status, error.message) == (400, 400, "nope")
        assert "BaseInferenceToolkitError" in [c.__name__ for c in type(error).__mro__]


@pytest.mark.parametrize("body, content_type, status, message", [
    ("{", JSON, 400, "malformed JSON: Expecting property name enclosed in double quotes: "
                     "line 1 column 2 (char 1)"),
    ('{"instances": []}', JSON, 400,
     'expected {"instances": [[number, ...], ...]} with one row or more'),
    ('{"instances": [[1, 2], [3]]}', JSON, 400,
     "row 2 is not a list of 2 finite numbers like row 1"),
    ("1,2", "text/csv", 415, "content type 'text/csv' is not supported; send application/json"),
])
def test_model_rejects_bad_input(model, body, content_type, status, message, capsys):
    with pytest.raises(model.BaseInferenceToolkitError) as raised:
        model.input_fn(body, content_type)
    assert (raised.value.status_code, str(raised.value)) == (status, message)
    assert capsys.readouterr().err == f"model: rejected request ({status}): {message}\n"


def test_model_rejects_rows_of_the_wrong_width_with_400(model, loaded):
    data = model.input_fn(json.dumps({"instances": [[0.0] * 12]}), JSON)
    with pytest.raises(model.BadRequest) as raised:
        model.predict_fn(data, loaded[1])
    assert str(raised.value) == "rows have 12 feature(s); expected 13"


def test_model_answers_json_or_406(model, loaded):
    prediction = model.predict_fn(np.zeros((2, 13)), loaded[1])
    assert sorted(prediction) == ["predictions", "probabilities"]
    assert json.loads(model.output_fn(prediction, "*/*")[0]) == prediction
    with pytest.raises(model.NotAcceptable):
        model.output_fn(prediction, "text/csv")
