"""Job hosts through the LocalLauncher (InstanceSpec.for_job_host): no health check, the caller's
port, every log line to ``on_line``, exit statuses from ``handle.wait()``, usage under the job's
own dimensions, and start failures that say what happened."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tandem.serving.launcher import ContainerSpec, InstanceSpec, InstanceStartFailed
from tandem.serving.local_launcher import LocalLauncher
from tandem.store import open_store
from tandem.telemetry.logs import LogService
from tandem.telemetry.metrics import MetricRegistry
from tests.waiting import wait_until_async

GROUP = "/aws/sagemaker/TrainingJobs"
NAMESPACE = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[LocalLauncher, LogService,
                                                       MetricRegistry]]:
    store = open_store(tmp_path / "store")
    logs = LogService(store.logs, flush_interval=0.05, sweep_interval=None)
    await logs.start()
    registry = MetricRegistry()
    launcher = LocalLauncher(registry, logs, usage_interval=0.05, data_dir=tmp_path / "data",
                             report_events=False)
    yield launcher, logs, registry
    await launcher.close()
    await logs.stop()
    store.close()


def host(tmp_path: Path, name: str, script: str, port: int) -> InstanceSpec:
    container = ContainerSpec(name, (sys.executable, "-c", script),
                              env={"PORT": str(port)}, cwd=str(tmp_path), port=port)
    return InstanceSpec.for_job_host(
        "job-1", name, container, tmp_path, log_group=GROUP, log_stream=f"job-1/{name}-1700",
        usage_namespace=NAMESPACE, usage_dimensions={"Host": f"job-1/{name}"},
        stop_grace_period=1.0)


async def test_a_host_runs_to_its_exit_and_every_line_reaches_on_line(
        parts: tuple[LocalLauncher, LogService, MetricRegistry], tmp_path: Path) -> None:
    launcher, logs, registry = parts
    seen: list[str] = []
    script = ("import os, time; print('port', os.environ['PORT']); "
              "[print(f'loss={i}') for i in range(5)]; time.sleep(0.5); raise SystemExit(7)")
    handle = await launcher.start_instance(host(tmp_path, "algo-1", script, 40123),
                                           on_line=lambda line, ts: seen.append(line))
    assert handle.ports == {"algo-1": 40123}  # the caller's port, no lease
    assert await handle.wait() == {"algo-1": 7}
    expected = ["port 40123"] + [f"loss={i}" for i in range(5)]
    assert seen == expected
    assert handle.last_lines("algo-1") == expected
    await logs.flush()
    events = await logs.get_log_events(log_group_name=GROUP, log_stream_name="job-1/algo-1-1700",
                                       start_from_head=True)
    assert [e.message for e in events.events] == expected
    await launcher.stop_instance(handle.instance_id, 0)
    assert launcher.instances() == []


async def test_a_host_is_sampled_under_its_host_dimension_with_disk(
        parts: tuple[LocalLauncher, LogService, MetricRegistry], tmp_path: Path) -> None:
    launcher, _, registry = parts
    handle = await launcher.start_instance(
        host(tmp_path, "algo-2", "import time; time.sleep(30)", 40124))

    def names() -> set[str]:
        return {s.key.metric_name for s in registry.all_series() if s.cumulative()[0] > 0}

    await wait_until_async(lambda: {"CPUUtilization", "MemoryUtilization",
                                    "DiskUtilization"} <= names(), "usage samples")
    assert {(s.key.namespace, s.key.dimensions) for s in registry.all_series()} == {
        (NAMESPACE, (("Host", "job-1/algo-2"),))}
    await launcher.stop_instance(handle.instance_id, 0.5)
    assert handle.pids() == []
    assert await handle.wait() == {"algo-2": -15}


async def test_a_host_that_cannot_start_names_the_error(
        parts: tuple[LocalLauncher, LogService, MetricRegistry], tmp_path: Path) -> None:
    launcher, _, _ = parts
    container = ContainerSpec("algo-1", ("/nonexistent/train",), env={}, cwd=str(tmp_path),
                              port=40125)
    spec = InstanceSpec.for_job_host("job-1", "algo-1", container, tmp_path, log_group=GROUP,
                                     log_stream="job-1/algo-1-1700")
    with pytest.raises(InstanceStartFailed) as info:
        await launcher.start_instance(spec)
    [problem] = info.value.problems
    assert problem.container == "algo-1"
    assert problem.spawn_error is not None and "No such file or directory" in problem.spawn_error
    assert problem.what == f"could not be started: {problem.spawn_error}"
    assert launcher.instances() == []


async def test_a_health_checked_host_that_exits_first_reports_its_code(
        parts: tuple[LocalLauncher, LogService, MetricRegistry], tmp_path: Path) -> None:
    launcher, _, _ = parts
    container = ContainerSpec("jupyter", (sys.executable, "-c", "print('no'); exit(4)"),
                              env={}, cwd=str(tmp_path), port=40126)
    spec = InstanceSpec.for_job_host("nb", "jupyter", container, tmp_path, log_group=GROUP,
                                     log_stream="nb/jupyter.log",
                                     health_check_path="/api/status?token=x",
                                     health_check_timeout=30.0)
    with pytest.raises(InstanceStartFailed) as info:
        await launcher.start_instance(spec)
    [problem] = info.value.problems
    assert (problem.returncode, problem.last_lines) == (4, ("no",))
