"""In-memory stand-ins for the metric registry and log service, plus spec builders, shared by
the launcher, agent and reaper tests (imported by name; pytest puts this directory on sys.path)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tandem.serving.launcher import ContainerSpec, InstanceSpec

PROGRAM = str(Path(__file__).with_name("container_program.py"))


class FakeSeries:
    def __init__(self) -> None:
        self.values: list[float] = []

    def record(self, value: float, timestamp: float | None = None) -> None:
        self.values.append(value)


class FakeRegistry:
    def __init__(self) -> None:
        self.series_by_key: dict[tuple, FakeSeries] = {}

    def series(self, namespace, metric_name, dimensions, unit="None"):
        key = (namespace, metric_name, tuple(sorted(dimensions.items())), unit)
        return self.series_by_key.setdefault(key, FakeSeries())


class FakeLogs:
    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], list[str]] = {}

    def ensure_log_stream(self, group: str, stream: str) -> None:
        self.streams.setdefault((group, stream), [])


class FakeCapture:
    def __init__(self, logs, group, stream, keep_last=20, on_line=None) -> None:
        self.logs, self.key, self.keep_last = logs, (group, stream), keep_last
        self.last_lines: list[str] = []

    async def run(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            text = line.decode().rstrip("\n")
            self.logs.streams[self.key].append(text)
            self.last_lines = (self.last_lines + [text])[-self.keep_last :]


def container(name: str, *options: str) -> ContainerSpec:
    return ContainerSpec(name, (sys.executable, "-u", PROGRAM, *options), env={}, cwd=None)


def instance_spec(tmp_path: Path, *containers: ContainerSpec, **timing) -> InstanceSpec:
    # Patient limits (a healthy start or ping ends them early): a loaded machine must not turn
    # a slow answer into a failed start or an unhealthy instance.
    defaults = dict(
        health_check_timeout=60.0, ping_interval=0.1, ping_timeout=5.0, stop_grace_period=2.0
    )
    defaults.update(timing)
    return InstanceSpec.for_endpoint("ep-1", "AllTraffic", containers, tmp_path, **defaults)
