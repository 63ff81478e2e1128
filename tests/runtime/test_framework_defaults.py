"""The framework images' default handler functions in-process, against the framework's own
predictions: XGBoost's built-in serving and PyTorch's TorchScript defaults."""

from __future__ import annotations

import io
import json
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tandem.runtime import Handler, RuntimeEnvironment
from tandem.runtime.frameworks import FRAMEWORKS, defaults_for

xgb = pytest.importorskip("xgboost")

ROWS = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 1.5], [-1.0, 2.5, 0.25], [2.0, -0.5, 4.0]])


def _booster():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    features = rng.normal(size=(64, 3))
    labels = features @ np.array([1.5, -2.0, 0.5]) + 0.1
    return xgb.train({"max_depth": 3, "eta": 0.3, "seed": 1},
                     xgb.DMatrix(features, label=labels), num_boost_round=8)


def _handler(model_dir: Path, framework: str) -> Handler:
    env = RuntimeEnvironment(model_dir=model_dir, code_dir=model_dir / "code")
    return Handler.load(env, defaults_for(framework))


def _save(booster, model_dir: Path, form: str) -> None:  # type: ignore[no-untyped-def]
    model_dir.mkdir()
    path = model_dir / "xgboost-model"
    if form == "pickle":
        path.write_bytes(pickle.dumps(booster))
    else:
        # save_model picks the format from the name; then the file takes the algorithm's name.
        booster.save_model(str(model_dir / f"saved.{form}"))
        (model_dir / f"saved.{form}").rename(path)


@pytest.mark.parametrize("form", ["pickle", "json", "ubj"])
def test_xgboost_model_in_each_saved_format_predicts_as_xgboost(tmp_path, form):
    booster = _booster()
    _save(booster, tmp_path / "model", form)
    expected = booster.predict(xgb.DMatrix(ROWS))
    handler = _handler(tmp_path / "model", "xgboost")
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()
    result = handler.invoke(body, "text/csv", "text/csv", {})
    assert (result.status, result.content_type) == (200, "text/csv")
    lines = result.body.decode().splitlines()
    assert len(lines) == len(ROWS)
    np.testing.assert_allclose([float(x) for x in lines], expected, rtol=1e-6)


def test_xgboost_json_and_jsonlines_answers(tmp_path):
    booster = _booster()
    _save(booster, tmp_path / "model", "json")
    expected = booster.predict(xgb.DMatrix(ROWS)).tolist()
    handler = _handler(tmp_path / "model", "xgboost")
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()
    result = handler.invoke(body, "text/csv", "application/json", {})
    assert result.content_type == "application/json"
    assert json.loads(result.body) == {"predictions": [{"score": v} for v in expected]}
    result = handler.invoke(body, "text/csv", "application/jsonlines", {})
    assert [json.loads(line) for line in result.body.decode().splitlines()] == expected


@pytest.mark.parametrize("content_type", ["text/libsvm", "text/x-libsvm"])
def test_xgboost_libsvm_one_based_indices_match_dense_rows(tmp_path, content_type):
    booster = _booster()
    _save(booster, tmp_path / "model", "ubj")
    # Every row names its last feature, so the sparse matrix has the model's width.
    lines = [" ".join(f"{i + 1}:{v}" for i, v in enumerate(row) if v != 0 or i == 2)
             for row in ROWS]
    result = _handler(tmp_path / "model", "xgboost").invoke(
        "\n".join(lines).encode(), content_type, "text/csv", {})
    assert result.status == 200, result.body
    dense = ROWS.copy()
    dense[dense == 0] = np.nan
    expected = booster.predict(xgb.DMatrix(dense))
    np.testing.assert_allclose([float(x) for x in result.body.decode().split()], expected,
                               rtol=1e-6)


def test_xgboost_refusals_carry_the_containers_statuses(tmp_path):
    booster = _booster()
    _save(booster, tmp_path / "model", "pickle")
    handler = _handler(tmp_path / "model", "xgboost")
    assert handler.invoke(b"1,2,3", "application/x-recordio-protobuf", "text/csv",
                          {}).status == 415
    assert handler.invoke(b"1,2,3", "image/png", "text/csv", {}).status == 415
    assert handler.invoke(b"a,b,c", "text/csv", "text/csv", {}).status == 415
    too_wide = handler.invoke(b"1,2,3,4,5", "text/csv", "text/csv", {})
    assert too_wide.status == 400 and b"Feature size" in too_wide.body
    assert handler.invoke(b"1,2,3", "text/csv", "application/x-recordio-protobuf",
                          {}).status == 406
    assert handler.invoke(b"1,2,3", "text/csv", "text/html", {}).status == 406
    for content_type in ("text/csv", "text/libsvm"):
        empty = handler.invoke(b"\n", content_type, "text/csv", {})
        assert empty.status == 400 and b"request body is empty" in empty.body


def test_xgboost_batch_transform_writes_one_prediction_per_line(tmp_path, monkeypatch):
    booster = _booster()
    _save(booster, tmp_path / "model", "json")
    monkeypatch.setenv("SAGEMAKER_BATCH", "true")
    result = _handler(tmp_path / "model", "xgboost").invoke(
        b"1,2,3\n4,5,6", "text/csv", "application/json", {})
    expected = booster.predict(xgb.DMatrix(np.array([[1.0, 2, 3], [4, 5, 6]]))).tolist()
    assert result.body.decode() == "".join(f"{v}\n" for v in expected)


def test_xgboost_defaults_answer_csv_when_no_accept_is_asked():
    defaults = defaults_for("xgboost")
    assert defaults is not None and defaults.default_accept == "text/csv"


def test_unknown_framework_is_refused():
    with pytest.raises(ValueError, match="unknown framework"):
        defaults_for("caffe")
    assert defaults_for("generic") is None and defaults_for("sklearn") is None
    assert set(FRAMEWORKS) >= {"pytorch", "xgboost", "tensorflow", "huggingface"}


def test_tensorflow_image_without_tensorflow_fails_to_load_with_the_reason(tmp_path,
                                                                         monkeypatch):
    # None in sys.modules makes the import fail, as where TensorFlow is not installed.
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    (tmp_path / "model").mkdir()
    with pytest.raises(Exception, match="TensorFlow is not installed"):
        _handler(tmp_path / "model", "tensorflow")


def _saved_model(model_dir: Path):  # type: ignore[no-untyped-def]
    tf = pytest.importorskip("tensorflow")

    class Affine(tf.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[1.0, -2.0], [0.5, 3.0], [2.0, 0.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):  # type: ignore[no-untyped-def]
            return {"y": tf.matmul(x, self.w)}

    module = Affine()
    tf.saved_model.save(module, str(model_dir / "1"), signatures={"serving_default": module.serve})
    return ROWS.astype(np.float32) @ module.w.numpy()


@pytest.mark.optional_extra("tensorflow")
def test_tensorflow_serving_json_rows_and_columns(tmp_path):
    expected = _saved_model(tmp_path / "model")
    handler = _handler(tmp_path / "model", "tensorflow")
    result = handler.invoke(json.dumps({"instances": ROWS.tolist()}).encode(),
                            "application/json", "application/json", {})
    assert result.status == 200, result.body
    np.testing.assert_allclose(json.loads(result.body)["predictions"], expected, rtol=1e-6)
    result = handler.invoke(json.dumps({"inputs": {"x": ROWS.tolist()}}).encode(),
                            "application/json", "application/json", {})
    np.testing.assert_allclose(json.loads(result.body)["outputs"], expected, rtol=1e-6)
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()
    result = handler.invoke(body, "text/csv", "application/json", {})
    np.testing.assert_allclose(json.loads(result.body)["predictions"], expected, rtol=1e-6)
    bad = handler.invoke(b'{"rows": []}', "application/json", "application/json", {})
    assert bad.status == 400


# -- PyTorch ---------------------------------------------------------------------------------

def _torchscript(model_dir: Path, name: str = "model.pt"):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    model_dir.mkdir()
    with warnings.catch_warnings():
        # TorchScript is deprecated in new torch releases; SageMaker's PyTorch image serves it.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(model_dir / name))
    with torch.no_grad():
        return net(torch.tensor(ROWS, dtype=torch.float32)).numpy()


@pytest.mark.parametrize("name", ["model.pt", "weights.pth"])
def test_pytorch_torchscript_json_in_and_out(tmp_path, name):
    expected = _torchscript(tmp_path / "model", name)
    handler = _handler(tmp_path / "model", "pytorch")
    result = handler.invoke(json.dumps(ROWS.tolist()).encode(), "application/json",
                            "application/json", {})
    assert (result.status, result.content_type) == (200, "application/json")
    np.testing.assert_allclose(json.loads(result.body), expected, rtol=1e-6)


def test_pytorch_npy_in_and_out_keeps_the_arrays(tmp_path):
    expected = _torchscript(tmp_path / "model")
    stream = io.BytesIO()
    np.save(stream, ROWS.astype(np.float32))
    result = _handler(tmp_path / "model", "pytorch").invoke(
        stream.getvalue(), "application/x-npy", "application/x-npy", {})
    assert (result.status, result.content_type) == (200, "application/x-npy")
    np.testing.assert_allclose(np.load(io.BytesIO(result.body)), expected, rtol=1e-6)


def test_pytorch_csv_in_and_out(tmp_path):
    expected = _torchscript(tmp_path / "model")
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()
    result = _handler(tmp_path / "model", "pytorch").invoke(body, "text/csv", "text/csv", {})
    assert result.status == 200
    got = np.array([[float(x) for x in line.split(",")]
                    for line in result.body.decode().splitlines()])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_pytorch_eager_pickle_needs_a_model_fn(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "model").mkdir()
    torch.save(torch.nn.Linear(3, 1).state_dict(), str(tmp_path / "model" / "model.pth"))
    with pytest.raises(Exception, match="torchscript"):
        _handler(tmp_path / "model", "pytorch")


def test_pytorch_model_dir_with_two_candidates_is_refused(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "a.pth").write_bytes(b"x")
    (tmp_path / "model" / "b.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"Exactly one \.pth or \.pt file"):
        _handler(tmp_path / "model", "pytorch")


def test_xgboost_multiclass_probabilities_are_one_row_per_line(tmp_path):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] > 0).astype(int) + (features[:, 1] > 0).astype(int)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                        xgb.DMatrix(features, label=labels), num_boost_round=4)
    _save(booster, tmp_path / "model", "json")
    expected = booster.predict(xgb.DMatrix(ROWS))
    handler = _handler(tmp_path / "model", "xgboost")
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()
    lines = handler.invoke(body, "text/csv", "text/csv", {}).body.decode().splitlines()
    got = np.array([[float(x) for x in line.split(",")] for line in lines])
    assert got.shape == (len(ROWS), 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    scores = json.loads(handler.invoke(body, "text/csv", "application/json", {}).body)
    np.testing.assert_allclose([p["score"] for p in scores["predictions"]], expected, rtol=1e-6)


def test_xgboost_selectable_inference_output_is_refused_at_load(tmp_path, monkeypatch):
    _save(_booster(), tmp_path / "model", "json")
    monkeypatch.setenv("SAGEMAKER_INFERENCE_OUTPUT", "predicted_label,probability")
    with pytest.raises(NotImplementedError, match="selectable inference output"):
        _handler(tmp_path / "model", "xgboost")


def test_xgboost_user_predict_fn_gets_the_booster_and_a_dmatrix(tmp_path):
    booster = _booster()
    _save(booster, tmp_path / "model", "json")
    seen = []

    def predict_fn(data, model):  # type: ignore[no-untyped-def]
        seen.append((type(data).__name__, type(model).__name__))
        return model.predict(data) * 2

    handler = Handler(module(predict_fn=predict_fn),
                      RuntimeEnvironment(model_dir=tmp_path / "model",
                                         code_dir=tmp_path / "model" / "code"),
                      defaults_for("xgboost"))
    handler.model = handler._model_fn(None, str(tmp_path / "model"))
    result = handler.invoke(b"1,2,3", "text/csv", "text/csv", {})
    assert seen == [("DMatrix", "Booster")]
    expected = booster.predict(xgb.DMatrix(np.array([[1.0, 2.0, 3.0]]))) * 2
    np.testing.assert_allclose([float(result.body)], expected, rtol=1e-6)


def module(**functions: object):  # type: ignore[no-untyped-def]
    from types import ModuleType

    result = ModuleType("inference")
    result.__dict__.update(functions)
    return result
