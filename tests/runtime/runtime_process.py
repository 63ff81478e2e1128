"""Real runtime processes for the tests: started on port 0, the port read from their log."""


from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path

_SERVING = re.compile(r"serving on http://[^:]+:(\d+)")


class RuntimeProcess:
    """One ``python -m tandem.runtime`` child with its stderr collected in a thread."""

    def __init__(self, model_dir: Path, env: Mapping[str, str] | None = None) -> None:
        child_env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONUNBUFFERED": "1",
                     "SAGEMAKER_BIND_TO_PORT": "0", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tandem.runtime", "--model-dir", str(model_dir)],
            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = _SERVING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._ready.set()
        self.proc.stdout.close()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 30.0) -> RuntimeProcess:
        if not self._ready.wait(timeout) or self.port is None:
            self.stop()
            raise AssertionError(f"runtime did not start:\n{self.output}")
        return self

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        assert self.port is not None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def invoke(self, body: bytes | str, content_type: str | None = "application/json",
               accept: str | None = None, **extra: str) -> tuple[int, dict[str, str], bytes]:
        headers = dict(extra)
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        return self.request("POST", "/invocations", body, headers)

    def wait(self, timeout: float = 10.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout)
        return code

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.wait()


def write_model(root: Path, inference_py: str, files: Mapping[str, str] | None = None) -> Path:
    """A model directory with ``code/inference.py`` and extra files (paths relative to root)."""
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(textwrap.dedent(inference_py))
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
