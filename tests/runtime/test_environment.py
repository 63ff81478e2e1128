from __future__ import annotations

from pathlib import Path

import pytest

from tandem.runtime import RuntimeConfigError, RuntimeEnvironment

MODEL = Path("/models/m")


def test_defaults():
    env = RuntimeEnvironment.from_env({}, MODEL)
    assert (env.host, env.port, env.program, env.module_name, env.code_dir, env.default_accept,
            env.workers, env.threaded) == ("127.0.0.1", 8080, "inference.py", "inference",
                                           MODEL / "code", "application/json", 1, False)


def test_overrides():
    env = RuntimeEnvironment.from_env({
        "SAGEMAKER_BIND_TO_HOST": "0.0.0.0", "SAGEMAKER_BIND_TO_PORT": "9001",
        "SAGEMAKER_PROGRAM": "serve_me.py", "SAGEMAKER_SUBMIT_DIRECTORY": "file:///src",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "3", "SAGEMAKER_RUNTIME_THREADED": "TRUE",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6",
    }, MODEL)
    assert (env.host, env.port, env.module_name, env.code_dir, env.default_accept, env.workers,
            env.threaded, env.max_payload_bytes) == ("0.0.0.0", 9001, "serve_me", Path("/src"),
                                                     "text/csv", 3, True, 6 * 1024 * 1024)


@pytest.mark.parametrize("name, value, message", [
    ("SAGEMAKER_BIND_TO_PORT", "http", "is not an integer"),
    ("SAGEMAKER_BIND_TO_PORT", "70000", "outside 0..65535"),
    ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "outside 1..512"),
    ("SAGEMAKER_SUBMIT_DIRECTORY", "s3://b/sourcedir.tar.gz", "needs a local directory"),
    ("SAGEMAKER_PROGRAM", "../x.py", "must name a module file"),
])
def test_bad_values_are_config_errors(name, value, message):
    with pytest.raises(RuntimeConfigError, match=message):
        RuntimeEnvironment.from_env({name: value}, MODEL)
