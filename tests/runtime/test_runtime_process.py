"""The runtime as a real process: /ping and /invocations for inference.py variants.

Every variant's process is started at once by one fixture and shared by the tests, so the
whole file pays for a few concurrent Python start-ups rather than one per test.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from runtime_process import RuntimeProcess, write_model

from tests.waiting import wait_until

DEFAULTS = """
    import json, os
    print("loading the model", flush=True)

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "offset.json")) as f:
            return json.load(f)["offset"]

    def predict_fn(data, model):
        if data.size and data.flat[0] == -1:
            raise ValueError("minus one is not allowed")
        if data.size and data.flat[0] == -2:
            from sagemaker_inference.errors import GenericInferenceToolkitError
            raise GenericInferenceToolkitError(429, "slow down")
        return data + model
"""

TRANSFORM = """
    import json

    def model_fn(model_dir):
        return "T"

    def transform_fn(model, input_data, content_type, accept):
        if content_type == "text/plain":
            return input_data.upper()
        echo = {"model": model, "input": input_data, "content_type": content_type,
                "accept": accept}
        return json.dumps(echo), "application/vnd.echo+json"
"""

OVERRIDES = """
    from tandem.runtime import UnsupportedFormatError

    def model_fn(model_dir, context):
        return context.system_properties["model_dir"]

    def input_fn(input_data, content_type, context):
        if content_type != "text/plain":
            raise UnsupportedFormatError(content_type)
        return input_data.decode()

    def predict_fn(data, model, context):
        if context.custom_attributes:
            context.response_custom_attributes = "seen=" + context.custom_attributes
        return data[::-1]

    def output_fn(prediction, accept):
        if accept != "text/plain":
            raise UnsupportedFormatError(accept)
        return prediction
"""

WORKERS = """
    import json, os, time

    def model_fn(model_dir):
        return None

    def transform_fn(model, input_data, content_type, accept):
        # ["hold", DIR]: say so in DIR/started, then hold until DIR/release exists.
        request = json.loads(input_data)
        if isinstance(request, list) and request[:1] == ["hold"]:
            open(os.path.join(request[1], "started"), "w").close()
            deadline = time.monotonic() + 300
            while not os.path.exists(os.path.join(request[1], "release")):
                if time.monotonic() > deadline:
                    raise RuntimeError("never released")
                time.sleep(0.01)
        return str(os.getpid())
"""

BROKEN = {
    "import_error": "import not_a_module_anywhere\n",
    "no_model_fn": "def predict_fn(data, model):\n    return data\n",
    "conflict": "def model_fn(d):\n    return 1\ndef transform_fn(m, d, c, a):\n    return d\n"
                "def input_fn(d, c):\n    return d\n",
}


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RuntimeProcess]:
    root = tmp_path_factory.mktemp("runtimes")
    defaults = write_model(root / "defaults", DEFAULTS, {"offset.json": '{"offset": 1}',
                                                         "code/requirements.txt": "scipy\n"})
    processes = {
        "defaults": RuntimeProcess(defaults, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}),
        "transform": RuntimeProcess(write_model(root / "transform", TRANSFORM),
                                    {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"}),
        "overrides": RuntimeProcess(write_model(root / "overrides", OVERRIDES)),
        "workers": RuntimeProcess(write_model(root / "workers", WORKERS),
                                  {"SAGEMAKER_MODEL_SERVER_WORKERS": "2",
                                   "SAGEMAKER_RUNTIME_THREADED": "true"}),
    }
    try:
        for process in processes.values():
            process.wait_ready()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    root = tmp_path_factory.mktemp("broken")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "tandem.runtime", "--model-dir",
             str(write_model(root / name, source))],
            env={"PATH": "/usr/bin:/bin", "SAGEMAKER_BIND_TO_PORT": "0"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, source in BROKEN.items()
    }
    results = {}
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=60)
        results[name] = (proc.returncode, stderr)
    return results


def test_ping_answers_200_with_an_empty_body(runtimes):
    status, headers, body = runtimes["defaults"].request("GET", "/ping")
    assert (status, headers["Content-Length"], body) == (200, "0", b"")


def test_model_fn_output_and_requirements_notice_are_logged(runtimes):
    output = runtimes["defaults"].output
    assert "loading the model" in output
    assert "not installing" in output and "requirements.txt" in output


def test_default_json_in_and_out(runtimes):
    status, headers, body = runtimes["defaults"].invoke("[1, 2, 3]", accept="application/json")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json",
                                                                    [2, 3, 4])


def test_missing_content_type_is_json_and_missing_accept_uses_default_accept(runtimes):
    status, headers, body = runtimes["defaults"].invoke("[[1, 2], [3, 4]]", content_type=None)
    assert (status, headers["Content-Type"], body) == (200, "text/csv", b"2,3\n4,5\n")


def test_wildcard_accept_uses_default_accept(runtimes):
    status, headers, body = runtimes["defaults"].invoke("[5]", accept="*/*")
    assert (status, headers["Content-Type"], body) == (200, "text/csv", b"6\n")


def test_accept_list_picks_first_supported_type(runtimes):
    status, headers, body = runtimes["defaults"].invoke(
        "[5]", accept="application/x-foo, application/json")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b"[6]")


def test_csv_in_json_out(runtimes):
    status, _, body = runtimes["defaults"].invoke("1,2\n3,4", content_type="text/csv",
                                                  accept="application/json")
    assert (status, json.loads(body)) == (200, [[2.0, 3.0], [4.0, 5.0]])


def test_npy_in_and_out(runtimes):
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6, dtype=np.int64).reshape(2, 3))
    status, headers, body = runtimes["defaults"].invoke(
        buffer.getvalue(), content_type="application/x-npy", accept="application/x-npy")
    assert (status, headers["Content-Type"]) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body)).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_unsupported_content_type_is_415_with_toolkit_body(runtimes):
    status, headers, body = runtimes["defaults"].invoke("x", content_type="text/csv; charset=utf-8")
    error = json.loads(body)
    assert (status, headers["Content-Type"], error["error"]) == (415, "application/json",
                                                                  "UnsupportedFormatError")
    assert "Content type text/csv; charset=utf-8 is not supported" in error["error-message"]
    assert "Traceback" in error["stack-trace"]


def test_unsupported_accept_is_406(runtimes):
    status, _, body = runtimes["defaults"].invoke("[1]", accept="application/x-foo")
    assert (status, json.loads(body)["error"]) == (406, "UnsupportedFormatError")
    assert "application/x-foo is not supported" in json.loads(body)["error-message"]


def test_handler_exception_is_500_with_message_and_traceback(runtimes):
    status, headers, body = runtimes["defaults"].invoke("[-1]")
    text = body.decode()
    assert (status, headers["Content-Type"]) == (500, "text/plain")
    assert text.startswith("minus one is not allowed\nTraceback (most recent call last):")
    assert text.rstrip().endswith("ValueError: minus one is not allowed")
    wait_until(lambda: "ValueError: minus one is not allowed" in runtimes["defaults"].output,
               "the traceback in the log")


def test_toolkit_error_keeps_its_status(runtimes):
    status, _, body = runtimes["defaults"].invoke("[-2]")
    assert (status, body) == (429, b"slow down")


def test_unknown_route_is_404_and_wrong_method_405(runtimes):
    assert runtimes["defaults"].request("GET", "/nope")[0] == 404
    assert runtimes["defaults"].request("GET", "/invocations")[0] == 405


def test_transform_fn_gets_decoded_text_and_defaults(runtimes):
    status, headers, body = runtimes["transform"].invoke('{"a": 1}')
    assert (status, headers["Content-Type"]) == (200, "application/vnd.echo+json")
    assert json.loads(body) == {"model": "T", "input": '{"a": 1}',
                                "content_type": "application/json", "accept": "application/json"}


def test_transform_fn_bytes_result_takes_the_accept_type(runtimes):
    status, headers, body = runtimes["transform"].invoke(b"abc", content_type="text/plain",
                                                         accept="text/x-upper, text/plain")
    assert (status, headers["Content-Type"], body) == (200, "text/x-upper", b"ABC")


def test_a_body_over_the_payload_limit_is_413(runtimes):
    status, _, _ = runtimes["transform"].invoke(b"x" * (1024 * 1024 + 1), content_type="text/plain")
    assert status == 413
    assert runtimes["transform"].invoke(b"x" * (1024 * 1024), content_type="text/plain")[0] == 200


def test_overrides_with_context_and_custom_attributes(runtimes):
    status, headers, body = runtimes["overrides"].invoke(
        b"abc", content_type="text/plain", accept="text/plain",
        **{"X-Amzn-SageMaker-Custom-Attributes": "trace=1"})
    assert (status, headers["Content-Type"], body) == (200, "text/plain", b"cba")
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "seen=trace=1"


def test_overrides_without_custom_attributes_send_none(runtimes):
    _, headers, _ = runtimes["overrides"].invoke(b"ab", content_type="text/plain",
                                                 accept="text/plain")
    assert "X-Amzn-SageMaker-Custom-Attributes" not in headers


def test_unsupported_format_from_user_input_fn_and_output_fn(runtimes):
    assert runtimes["overrides"].invoke(b"ab", content_type="text/csv",
                                        accept="text/plain")[0] == 415
    assert runtimes["overrides"].invoke(b"ab", content_type="text/plain",
                                        accept="text/csv")[0] == 406


def test_workers_share_the_port(runtimes):
    pids = {runtimes["workers"].invoke("1")[2] for _ in range(24)}
    assert len(pids) == 2


def test_threaded_runtime_answers_ping_during_a_slow_prediction(runtimes, tmp_path):
    worker = runtimes["workers"]
    slow = threading.Thread(target=worker.invoke, args=(json.dumps(["hold", str(tmp_path)]),))
    slow.start()
    try:
        wait_until(lambda: (tmp_path / "started").exists(), "the prediction to start")
        # One worker holds the prediction; 24 pings reach both workers, as 24 invocations do
        # (test_workers_share_the_port), so some reach the busy one.
        pings = [worker.request("GET", "/ping")[0] for _ in range(24)]
        held = slow.is_alive()
    finally:
        (tmp_path / "release").touch()
        slow.join()
    assert pings == [200] * 24
    assert held  # every ping was answered while the prediction was still running


def test_sigterm_stops_forked_workers_cleanly(tmp_path: Path):
    process = RuntimeProcess(write_model(tmp_path, WORKERS),
                             {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}).wait_ready()
    assert process.invoke("1")[0] == 200
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0


def test_import_error_exits_nonzero_with_traceback(broken):
    code, stderr = broken["import_error"]
    assert code == 1
    assert "Traceback (most recent call last):" in stderr
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in stderr


def test_missing_model_fn_exits_with_the_toolkit_message(broken):
    code, stderr = broken["no_model_fn"]
    assert code == 1
    assert "NotImplementedError" in stderr and "Please provide a model_fn implementation" in stderr


def test_transform_fn_with_input_fn_is_refused_at_start(broken):
    code, stderr = broken["conflict"]
    assert code == 1
    assert "Cannot use transform_fn implementation in conjunction with input_fn" in stderr
