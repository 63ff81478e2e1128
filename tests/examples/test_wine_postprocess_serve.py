"""The postprocess container's `serve`, run as a real process on a free port, speaks the
SageMaker container contract: /ping, /invocations, 4xx for bad input, keep-alive, one log line
per invocation, clean stop on SIGTERM."""

from __future__ import annotations

import ast
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from examples.wine_pipeline import CONTAINERS_DIR
from examples.wine_pipeline.samples import load_samples

SERVE = CONTAINERS_DIR / "postprocess" / "serve"
GOOD = {"predictions": [1, 0], "probabilities": [[0.01, 0.97, 0.02], [0.5, 0.25, 0.25]]}
pytestmark = pytest.mark.slow


@dataclass
class Serve:
    process: subprocess.Popen
    port: int
    lines: queue.Queue  # stdout lines, read by a thread so a test never blocks forever
    pump: threading.Thread
    host: str = "127.0.0.1"
    connections: list[http.client.HTTPConnection] = field(default_factory=list)

    def next_line(self) -> str:
        return self.lines.get(timeout=60)

    def connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.connections.append(connection)
        return connection


def _start(model_dir: Path, host: str | None = None) -> Serve:
    env = {"PATH": os.environ["PATH"], "SM_MODEL_DIR": str(model_dir),
           "SAGEMAKER_BIND_TO_PORT": "0"}
    if host is not None:
        env["SAGEMAKER_BIND_TO_HOST"] = host
    process = subprocess.Popen([str(SERVE)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    first = lines.get(timeout=60)
    where = re.escape(str(model_dir))
    bound = re.escape(host or "127.0.0.1")
    match = re.fullmatch(rf"postprocess: listening on {bound}:(\d+) with 3 labels from {where}",
                         first)  # fmt: skip
    assert match, first
    return Serve(process, int(match.group(1)), lines, thread, host or "127.0.0.1")


def _stop(serve: Serve) -> int:
    if serve.process.poll() is None:
        serve.process.send_signal(signal.SIGTERM)
    try:
        return serve.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        serve.process.kill()  # never leave it behind, then fail the test
        serve.process.wait()
        raise


@pytest.fixture(scope="module")
def server(model_dirs: dict[str, Path]) -> Iterator[Serve]:
    """One process shared by the tests that leave it running (starting one costs ~0.2 s)."""
    running = _start(model_dirs["postprocess"])
    try:
        yield running
    finally:
        _close(running)


@pytest.fixture
def serve(server: Serve) -> Iterator[Serve]:
    while not server.lines.empty():  # earlier tests' log lines
        server.lines.get_nowait()
    yield server
    for connection in server.connections:
        connection.close()
    server.connections.clear()


def _close(running: Serve) -> None:
    for connection in running.connections:
        connection.close()
    _stop(running)
    running.pump.join(timeout=5)
    running.process.stdout.close()  # type: ignore[union-attr]
    running.process.stderr.close()  # type: ignore[union-attr]


def _post(conn, body: bytes, headers=None):
    conn.request("POST", "/invocations", body=body,
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def test_it_listens_on_the_address_tandem_gives_it(model_dirs: dict[str, Path]) -> None:
    # An instance on another host gets that host's address in SAGEMAKER_BIND_TO_HOST.
    running = _start(model_dirs["postprocess"], host="127.0.0.2")
    try:
        conn = running.connect()
        conn.request("GET", "/ping")
        assert conn.getresponse().status == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", running.port), timeout=5).close()
    finally:
        _close(running)


def test_ping_answers_200_with_an_empty_body(serve):
    conn = serve.connect()
    conn.request("GET", "/ping")
    response = conn.getresponse()
    assert (response.status, response.getheader("Content-Length"), response.read()) == (
        200, "0", b"")


def test_invocation_labels_each_prediction_and_logs_one_line(serve):
    status, content_type, body = _post(serve.connect(), json.dumps(GOOD).encode())
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"predictions": [
        {"label": "class_1", "probability": 0.97,
         "probabilities": {"class_0": 0.01, "class_1": 0.97, "class_2": 0.02}},
        {"label": "class_0", "probability": 0.5,
         "probabilities": {"class_0": 0.5, "class_1": 0.25, "class_2": 0.25}},
    ]}
    assert re.fullmatch(r"postprocess: 2 prediction\(s\) in \d+\.\d ms", serve.next_line())


def test_malformed_json_is_a_400_with_a_message(serve):
    status, content_type, body = _post(serve.connect(), b'{"predictions": [1')
    assert (status, content_type) == (400, "text/plain; charset=utf-8")
    message = "malformed JSON: Expecting ',' delimiter: line 1 column 19 (char 18)"
    assert body == message.encode()
    assert serve.next_line() == f"postprocess: rejected request (400): {message}"


@pytest.mark.parametrize("document, message", [
    ([1], 'expected a JSON object with "predictions" and "probabilities"'),
    ({"predictions": [1]}, '"predictions" and "probabilities" must both be lists'),
    ({"predictions": [1], "probabilities": []}, "1 prediction(s) but 0 probability row(s)"),
    ({"predictions": [3], "probabilities": [[0, 0, 1]]},
     "prediction 1: 3 is not a class index in 0..2"),
    ({"predictions": [0], "probabilities": [[1, 0]]},
     "probabilities 1: expected 3 numbers in [0, 1]"),
])
def test_inconsistent_model_output_is_a_400(serve, document, message):
    status, _, body = _post(serve.connect(), json.dumps(document).encode())
    assert (status, body.decode()) == (400, message)


def test_connection_is_kept_alive_across_requests_and_errors(serve):
    conn = serve.connect()
    conn.request("GET", "/ping")
    assert conn.getresponse().read() == b""
    sock = conn.sock
    assert _post(conn, b"not json")[0] == 400
    assert _post(conn, json.dumps(GOOD).encode())[0] == 200
    assert conn.sock is sock  # http.client would have reconnected had the server closed it


def test_accept_text_csv_gives_label_and_probability_lines(serve):
    status, content_type, body = _post(serve.connect(), json.dumps(GOOD).encode(),
                                       {"Accept": "text/csv"})
    assert (status, content_type, body) == (200, "text/csv", b"class_1,0.97\nclass_0,0.5\n")


@pytest.mark.parametrize("headers, status", [
    ({"Accept": "image/png"}, 406),
    ({"Content-Type": "text/plain"}, 415),
])
def test_unservable_accept_or_content_type(serve, headers, status):
    assert _post(serve.connect(), json.dumps(GOOD).encode(), headers)[0] == status


def test_unknown_routes_are_404(serve):
    conn = serve.connect()
    conn.request("GET", "/nope")
    response = conn.getresponse()
    assert (response.status, response.read()) == (404, b"no route GET /nope")
    conn.request("POST", "/nope", body=b"{}")
    response = conn.getresponse()
    assert (response.status, response.read()) == (404, b"no route POST /nope")


def test_chunked_request_body_is_read(serve):
    conn = serve.connect()
    conn.request("POST", "/invocations", body=iter([json.dumps(GOOD).encode()]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200
    assert len(json.loads(response.read())["predictions"]) == 2


def test_sigterm_stops_it_cleanly(model_dirs):
    running = _start(model_dirs["postprocess"])
    try:
        assert _stop(running) == 0
        assert running.next_line() == "postprocess: stopped"
        assert running.process.stderr.read() == ""  # type: ignore[union-attr]
    finally:
        _close(running)


def test_without_labels_it_exits_1_naming_the_problem(tmp_path):
    env = {"PATH": os.environ["PATH"], "SM_MODEL_DIR": str(tmp_path),
           "SAGEMAKER_BIND_TO_PORT": "0"}
    result = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert result.stderr == (
        f"postprocess: cannot start: [Errno 2] No such file or directory: "
        f"'{tmp_path / 'labels.json'}' (SM_MODEL_DIR={tmp_path})\n")


def test_port_in_use_exits_1(model_dirs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {"PATH": os.environ["PATH"], "SM_MODEL_DIR": str(model_dirs["postprocess"]),
               "SAGEMAKER_BIND_TO_PORT": str(taken.getsockname()[1])}
        result = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True,
                                timeout=10)
    assert result.returncode == 1
    assert "postprocess: cannot start: [Errno 98] Address already in use" in result.stderr


def test_serve_is_an_executable_standard_library_program():
    source = SERVE.read_text()
    assert source.startswith("#!/usr/bin/env python3\n")
    assert os.access(SERVE, os.X_OK)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported and imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names


def test_model_container_output_for_each_good_sample_gets_its_labels(
    serve, preprocess, model, model_dirs
):
    scaler = preprocess.model_fn(str(model_dirs["preprocess"]))
    classifier = model.model_fn(str(model_dirs["model"]))
    conn = serve.connect()
    for sample in (s for s in load_samples() if s.ok):
        hop1, type1 = preprocess.output_fn(
            preprocess.predict_fn(preprocess.input_fn(sample.body, sample.content_type), scaler),
            None)
        hop2, type2 = model.output_fn(model.predict_fn(model.input_fn(hop1, type1), classifier),
                                      None)
        status, _, body = _post(conn, hop2, {"Content-Type": type2})
        assert status == 200
        assert tuple(p["label"] for p in json.loads(body)["predictions"]) == sample.labels


def test_keep_alive_connection_answers_request_after_request(serve):
    # Whether a keep-alive response waits for the client's delayed ACK (Nagle's algorithm:
    # ~40 ms each) is timed by bench.latency_bench; a test's bound would fail under load.
    conn = serve.connect()
    body = json.dumps(GOOD).encode()
    assert [_post(conn, body)[0] for _ in range(11)] == [200] * 11
