"""The handler contract in-process: arity, defaults, statuses and bodies, without HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tandem.runtime import (
    Context,
    GenericInferenceToolkitError,
    Handler,
    HandlerContractError,
    RuntimeEnvironment,
    UnsupportedFormatError,
)

ENV = RuntimeEnvironment(model_dir=Path("/models/m"), code_dir=Path("/models/m/code"))


def module(**functions: object) -> ModuleType:
    result = ModuleType("inference")
    result.__dict__.update(functions)
    return result


def loaded(mod: ModuleType | None, model: object = None) -> Handler:
    handler = Handler(mod, ENV)
    handler.model = model
    return handler


class Doubler:
    def predict(self, data):
        return data * 2


def test_default_predict_fn_calls_model_predict():
    result = loaded(module(), Doubler()).invoke(b"[1, 2]", "application/json",
                                                "application/json", {})
    assert (result.status, result.body, result.content_type) == (200, b"[2, 4]", "application/json")


def test_default_predict_fn_without_predict_is_not_implemented():
    result = loaded(module(), object()).invoke(b"[1]", "application/json", "application/json", {})
    assert result.status == 500
    assert b"Please provide a predict_fn implementation" in result.body


def test_context_is_passed_only_to_functions_that_take_it():
    seen = []

    def input_fn(data, content_type, context):
        seen.append(("input", type(context).__name__, context.custom_attributes))
        return data

    def predict_fn(data, model):
        seen.append(("predict", model))
        return data

    def output_fn(prediction, accept, context):
        context.response_custom_attributes = "a=1"
        return prediction, "text/x-out"

    result = loaded(module(input_fn=input_fn, predict_fn=predict_fn, output_fn=output_fn),
                    "M").invoke(b"body", "text/x-in", "text/x-out",
                                {"X-Amzn-SageMaker-Custom-Attributes": "c=2"})
    assert seen == [("input", "Context", "c=2"), ("predict", "M")]
    assert (result.status, result.body, result.content_type, result.headers) == (
        200, b"body", "text/x-out", {"X-Amzn-SageMaker-Custom-Attributes": "a=1"})


def test_json_and_csv_bodies_reach_input_fn_as_text_others_as_bytes():
    kinds = []

    def input_fn(data, content_type):
        kinds.append(type(data).__name__)
        return 0

    handler = loaded(module(input_fn=input_fn, predict_fn=lambda d, m: d))
    for content_type in ("application/json", "text/csv", "application/x-npy", "text/plain"):
        handler.invoke(b"1", content_type, "application/json", {})
    assert kinds == ["str", "str", "bytes", "bytes"]


@pytest.mark.parametrize("name, function", [
    ("input_fn", lambda a: a),
    ("predict_fn", lambda a, b, c, d: a),
    ("model_fn", lambda: None),
])
def test_wrong_arity_is_a_contract_error(name, function):
    with pytest.raises(HandlerContractError, match="arguments but"):
        Handler(module(**{name: function}), ENV)


def test_transform_fn_with_output_fn_is_a_contract_error():
    with pytest.raises(HandlerContractError, match="Cannot use transform_fn"):
        Handler(module(transform_fn=lambda m, d, c, a: d, output_fn=lambda p, a: p), ENV)


def test_toolkit_error_status_and_body():
    def predict_fn(data, model):
        raise GenericInferenceToolkitError(422, "bad rows", "Unprocessable")

    result = loaded(module(predict_fn=predict_fn)).invoke(b"[1]", "application/json",
                                                          "application/json", {})
    # A 4xx is the client's fault: the body is the message; the traceback goes to the log only.
    assert (result.status, result.content_type, result.body) == (422, "text/plain", b"bad rows")


def test_unsupported_format_bodies_name_the_class_and_message():
    result = loaded(module(predict_fn=lambda d, m: d)).invoke(b"x", "image/png",
                                                              "application/json", {})
    body = json.loads(result.body)
    assert (result.status, sorted(body)) == (415, ["error", "error-message", "stack-trace"])
    assert body["error"] == "UnsupportedFormatError"
    assert body["error-message"].startswith("Content type image/png is not supported")


def test_unsupported_format_from_transform_fn_is_415():
    def transform_fn(model, data, content_type, accept):
        raise UnsupportedFormatError(content_type)

    assert loaded(module(transform_fn=transform_fn)).invoke(
        b"x", "text/a", "text/b", {}).status == 415


def test_a_foreign_toolkit_class_is_recognised_by_name():
    class UnsupportedFormatError(Exception):  # as sagemaker_inference would define it
        pass

    def output_fn(prediction, accept):
        raise UnsupportedFormatError(accept)

    result = loaded(module(predict_fn=lambda d, m: d, output_fn=output_fn)).invoke(
        b"[1]", "application/json", "text/csv", {})
    assert result.status == 406


def test_output_of_an_unsupported_type_is_500():
    result = loaded(module(transform_fn=lambda m, d, c, a: 42)).invoke(
        b"[1]", "application/json", "application/json", {})
    assert result.status == 500
    assert b"must return bytes, str or (body, content_type)" in result.body


def test_undecodable_utf8_body_is_500():
    result = loaded(module(predict_fn=lambda d, m: d)).invoke(
        b"\xff", "application/json", "application/json", {})
    assert result.status == 500 and b"UnicodeDecodeError" in result.body


def test_load_uses_the_module_in_the_code_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = tmp_path / "src"
    code.mkdir()
    (code / "helper_for_serve_test.py").write_text("OFFSET = 10\n")
    (code / "serve_test_entry.py").write_text(
        "import helper_for_serve_test\n"
        "def model_fn(model_dir):\n    return helper_for_serve_test.OFFSET\n")
    env = RuntimeEnvironment.from_env(
        {"SAGEMAKER_PROGRAM": "serve_test_entry.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)},
        tmp_path)
    assert Handler.load(env).model == 10


def test_set_response_header_refuses_line_breaks():
    with pytest.raises(ValueError, match="line break"):
        Context("/m").response_custom_attributes = "a\r\nX-Evil: 1"
