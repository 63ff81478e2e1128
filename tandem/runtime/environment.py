"""The runtime's settings, read from the container environment (the SageMaker contract).

A container program's environment is its configuration interface, so the runtime reads these
variables rather than tandem's own settings; ``RuntimeEnvironment.from_env`` is given the
mapping at the edge (``__main__``) and stays testable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from .tracing import TraceSettings

__all__ = ["RuntimeEnvironment", "RuntimeConfigError"]


class RuntimeConfigError(Exception):
    """An environment variable the runtime cannot use; the process exits with status 2."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise RuntimeConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclasses.dataclass(frozen=True)
class RuntimeEnvironment:
    model_dir: Path
    code_dir: Path
    program: str = "inference.py"
    host: str = "127.0.0.1"
    port: int = 8080
    default_accept: str = "application/json"
    workers: int = 1
    threaded: bool = False
    max_payload_bytes: int = 100 * 1024 * 1024
    log_level: int = 20
    # Set when the environment names an OTLP traces endpoint (runtime/tracing.py).
    tracing: TraceSettings | None = None

    @property
    def module_name(self) -> str:
        return self.program[:-3] if self.program.endswith(".py") else self.program

    @classmethod
    def from_env(cls, env: Mapping[str, str], model_dir: Path) -> RuntimeEnvironment:
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
        if submit.startswith("file://"):
            submit = submit[len("file://"):]
        if "://" in submit:
            raise RuntimeConfigError(
                f"SAGEMAKER_SUBMIT_DIRECTORY={submit!r}: the runtime needs a local directory "
                "(tandem unpacks archives and URLs before it starts a container)"
            )
        program = env.get("SAGEMAKER_PROGRAM", "").strip() or "inference.py"
        if "/" in program or program.startswith("."):
            raise RuntimeConfigError(
                f"SAGEMAKER_PROGRAM={program!r} must name a module file in the code directory"
            )
        return cls(
            model_dir=model_dir,
            code_dir=Path(submit) if submit else model_dir / "code",
            program=program,
            host=env.get("SAGEMAKER_BIND_TO_HOST", "").strip() or "127.0.0.1",
            port=_int(env, "SAGEMAKER_BIND_TO_PORT", 8080, 0, 65535),
            default_accept=(
                env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or "application/json"
            ),
            workers=_int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", 1, 1, 512),
            threaded=_flag(env, "SAGEMAKER_RUNTIME_THREADED"),
            max_payload_bytes=_int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 100, 1, 4096) * 1024 * 1024,
            log_level=_int(env, "SAGEMAKER_CONTAINER_LOG_LEVEL", 20, 0, 100),
            tracing=TraceSettings.from_env(env),
        )
