"""Start and stop each system under test; time its start and weigh its idle process tree.

A ``System`` is started as its own process group; ``start`` returns once a POST of the
payload answered 200 and records the time from spawning the first process to that answer
(for tandem this includes deploying the endpoint with boto3). ``stop`` sends SIGTERM to
every process of the tree, then SIGKILL to what is left.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from .load import PAYLOAD

__all__ = ["System", "free_port", "process_cpu_s", "tree_cpu_s", "tree_rss_mb"]

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
PEERS = HERE / "peers"
_STARTUP_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree(pids: list[int]) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        for proc in [root, *root.children(recursive=True)]:
            seen[proc.pid] = proc
    return list(seen.values())


def tree_rss_mb(pids: list[int]) -> tuple[float, int]:
    """Resident memory of the processes and all their descendants (MB), and how many."""
    total, count = 0, 0
    for proc in _tree(pids):
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:
            pass
    return total / 1e6, count


def tree_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes and their descendants."""
    total = 0.0
    for proc in _tree(pids):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its children not included)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def post_ok(url: str, timeout: float = 5.0) -> bool:
    request = urllib.request.Request(url, data=PAYLOAD, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resp.read()
            return resp.status == 200
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


class System:
    """One system under test. ``launch`` spawns its processes and returns the invocation URL;
    it may append to ``self.procs`` and may itself wait (deploy)."""

    def __init__(self, name: str, launch: Callable[[System], str], *,
                 settle: float = 1.0) -> None:
        self.name = name
        self._launch = launch
        self.settle = settle
        self.procs: list[subprocess.Popen[bytes]] = []
        self.url = ""
        self.startup_s = 0.0
        self.idle_rss_mb = 0.0
        self.process_count = 0
        self.extra: dict[str, object] = {}

    def spawn(self, argv: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        if log is not None:
            out.close()  # type: ignore[union-attr]
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        started = time.perf_counter()
        self.url = self._launch(self)
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not post_ok(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no 200 from {self.url} "
                                   f"in {_STARTUP_TIMEOUT:.0f} s")
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"{self.name}: a process exited during start")
            time.sleep(0.05)
        self.startup_s = time.perf_counter() - started
        time.sleep(self.settle)  # let start-up work (imports, first health checks) finish
        self.idle_rss_mb, self.process_count = tree_rss_mb(self.pids)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def front_pid(self) -> int:
        """The process that takes the client's request (the router, where there is one)."""
        return int(self.extra.get("front_pid", self.procs[0].pid))  # type: ignore[call-overload]

    def stop(self, grace: float = 20.0) -> None:
        tree = _tree(self.pids)
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        for proc in tree:
            try:
                if proc.is_running():
                    proc.kill()
            except psutil.NoSuchProcess:
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


# -- the floors -----------------------------------------------------------------------------

def floor_a(work: Path) -> System:
    def launch(system: System) -> str:
        port = free_port()
        system.spawn([sys.executable, str(APPS / "floor_a.py"), str(port)],
                     log=work / "floor_a.log")
        return f"http://127.0.0.1:{port}/invocations"
    return System("floor A (one process)", launch)


def floor_b(work: Path) -> System:
    def launch(system: System) -> str:
        stage_ports = [free_port() for _ in range(3)]
        for i, port in enumerate(stage_ports):
            system.spawn([sys.executable, str(APPS / "stage.py"), str(port)],
                         log=work / f"floor_b_stage{i}.log")
        port = free_port()
        router = system.spawn([sys.executable, str(APPS / "floor_b.py"), str(port),
                               *(f"http://127.0.0.1:{p}/invocations" for p in stage_ports)],
                              log=work / "floor_b.log")
        system.extra["front_pid"] = router.pid
        return f"http://127.0.0.1:{port}/invocations"
    return System("floor B (aiohttp router)", launch)


# -- the peers ------------------------------------------------------------------------------

def _peer_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def ray_serve(work: Path, python: Path) -> System:
    def launch(system: System) -> str:
        port = free_port()
        env = _peer_env({"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
                         "RAY_SERVE_PROXY_LOCATION": "HeadOnly",
                         "RAY_TMPDIR": str(work / "ray")})
        (work / "ray").mkdir(exist_ok=True)
        system.spawn([str(python), str(PEERS / "ray_pipeline.py"), str(port)], env=env,
                     cwd=work, log=work / "ray.log")
        return f"http://127.0.0.1:{port}/"
    return System("Ray Serve", launch, settle=3.0)


def bentoml(work: Path, python: Path) -> System:
    def launch(system: System) -> str:
        port = free_port()
        env = _peer_env({"BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": str(work / "bentoml")})
        bentoml_bin = python.parent / "bentoml"
        system.spawn([str(bentoml_bin), "serve", "bentoml_pipeline:Pipeline", "--host",
                      "127.0.0.1", "--port", str(port)], env=env, cwd=PEERS,
                     log=work / "bentoml.log")
        return f"http://127.0.0.1:{port}/invocations"
    return System("BentoML", launch, settle=3.0)


# -- tandem ---------------------------------------------------------------------------------

def command_image(work: Path) -> Path:
    """A command-container image: a directory whose executable ``serve`` runs the stage."""
    image = work / "stage-image"
    image.mkdir(exist_ok=True)
    serve = image / "serve"
    serve.write_text(f"#!/bin/sh\nexec {sys.executable} {APPS / 'stage.py'}\n")
    serve.chmod(serve.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return image


def handler_containers() -> list[dict[str, object]]:
    return [{"ContainerHostname": f"stage{i + 1}", "Image": "sagemaker-scikit-learn:1.2-1",
             "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                             "SAGEMAKER_SUBMIT_DIRECTORY": str(APPS / "handler")}}
            for i in range(3)]


def command_containers(work: Path) -> list[dict[str, object]]:
    image = str(command_image(work))
    return [{"ContainerHostname": f"stage{i + 1}", "Image": image} for i in range(3)]
