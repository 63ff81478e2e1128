"""A Ray cluster over emulated hosts: the head in the root namespace, one node per host.

Every ``ray start`` runs with ``--block`` in a session of its own, so the rig knows exactly
which processes it started (the session's members, read from /proc) and stops them by PID:
never ``ray stop``, which would end every Ray process on the machine. Node death is detected
fast (1 s health checks, 3 misses) so kill tests do not wait Ray's default 30 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tandem.supervision.fate_sharing import session_members

from .netns import Host, Network, network

__all__ = ["RayCluster", "RayNode", "ray_cluster"]

_RAY = str(Path(sys.executable).with_name("ray"))
_UP_TIMEOUT = 180.0  # ray start takes ~4 s per node idle, minutes on a loaded 2-core machine
_OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's floor is 75 MiB; the default takes 30 % of RAM


@dataclasses.dataclass
class RayNode:
    """One ``ray start --block`` process and the session of daemons it leads."""

    host: Host | None  # None: the head, in the root namespace
    address: str
    process: subprocess.Popen[bytes]
    log: Path
    argv: list[str] = dataclasses.field(default_factory=list)  # how it was started

    def members(self) -> list[int]:
        return session_members(self.process.pid)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of this node (as a host's crash would end them)."""
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def down(self, grace: float = 10.0) -> None:
        """Stop it (SIGTERM to ``ray start --block``, SIGKILL to what is left after ``grace``;
        ``grace=0``: SIGKILL at once, as a crash) and reap it."""
        _stop([self], grace)

    def restart(self) -> None:
        """Start it again as it was first started (same port, same temp dir), appending to
        its log, and wait until its runtime reports started."""
        mark = self.log.stat().st_size if self.log.exists() else 0
        self.process = _start(self.argv, self.log, append=True)
        _wait_started(self, after=mark)


@dataclasses.dataclass
class RayCluster:
    network: Network
    head: RayNode
    nodes: list[RayNode]
    gcs_address: str  # HOST:PORT, what `tandem serve --launcher ray://...` takes

    @property
    def hosts(self) -> tuple[Host, ...]:
        return self.network.hosts

    def driver_env(self) -> dict[str, str]:
        """Environment for a driver process (tandem serve, a test script) joining the cluster."""
        return {**_ray_env(), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/root")}  # fmt: skip

    def run_driver(self, code: str, timeout: float = 120.0) -> object:
        """Run ``code`` (which sets ``result``) in a fresh driver; its JSON-encoded result."""
        script = (
            "import json, ray\n"
            f"ray.init(address={self.gcs_address!r}, logging_level='ERROR',"
            " log_to_driver=False)\n"
            f"{code}\n"
            "print('RESULT ' + json.dumps(result))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True,
            timeout=timeout, env=self.driver_env(),
        )  # fmt: skip
        for line in done.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line.removeprefix("RESULT "))
        raise AssertionError(f"driver failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def alive_nodes(self) -> list[dict[str, object]]:
        nodes = self.run_driver(
            "result = [{'ip': n['NodeManagerAddress'], 'resources': n['Resources']}"
            " for n in ray.nodes() if n['Alive']]"
        )
        assert isinstance(nodes, list)
        return nodes


def _ray_env() -> dict[str, str]:
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_health_check_period_ms": "1000",
        "RAY_health_check_timeout_ms": "1000",
        "RAY_health_check_failure_threshold": "3",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(Path(__file__).with_name("ray_site")),
    }


def _free_port(address: str) -> int:
    # Ray refuses a head port inside its worker range (10002-19999): pick above it.
    for port in range(20100, 20400):
        with socket.socket() as s:
            try:
                s.bind((address, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {address} in 20100-20399")


def _start(argv: list[str], log: Path, append: bool = False) -> subprocess.Popen[bytes]:
    env = {**_ray_env(), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": os.environ.get("HOME", "/root")}  # fmt: skip
    with open(log, "ab" if append else "wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip


def _stop(nodes: list[RayNode], grace: float = 10.0) -> None:
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(node.members() for node in nodes):
        time.sleep(0.2)
    for node in nodes:
        node.kill(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(5)
    # SIGKILLed processes take a moment to exit (a forked child may even miss the first kill).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(node.members() for node in nodes):
        for node in nodes:
            node.kill(signal.SIGKILL)
        time.sleep(0.1)


def _wait_started(node: RayNode, after: int = 0) -> None:
    deadline = time.monotonic() + _UP_TIMEOUT
    while "Ray runtime started" not in node.log.read_text(errors="replace")[after:]:
        if node.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"ray start on {node.address} did not start:\n"
                + node.log.read_text(errors="replace")[-3000:]
            )
        time.sleep(0.2)


def _wait_up(cluster: RayCluster, expected: int) -> None:
    deadline = time.monotonic() + _UP_TIMEOUT
    while True:
        for node in [cluster.head, *cluster.nodes]:
            if node.process.poll() is not None:
                raise RuntimeError(
                    f"ray start on {node.address} exited {node.process.returncode}:\n"
                    + node.log.read_text(errors="replace")[-3000:]
                )
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            if len(cluster.alive_nodes()) == expected:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {expected} nodes in {_UP_TIMEOUT} s")
        time.sleep(1)


@contextlib.contextmanager
def ray_cluster(
    host_count: int, work_dir: Path, cpus_per_host: int = 2,
    head_env: dict[str, str] | None = None,
) -> Iterator[RayCluster]:  # fmt: skip
    """A head (no CPUs to place on: instances go to hosts) and ``host_count`` nodes;
    ``head_env`` is added to the head's environment (e.g. GCS fault tolerance's Redis)."""
    with network(host_count) as net:
        # Ray's own files go to a short path: its socket paths must fit AF_UNIX's 107 bytes.
        ray_dirs = Path(f"/tmp/tdm{net.slot}-ray")
        shutil.rmtree(ray_dirs, ignore_errors=True)  # a killed run's
        started: list[RayNode] = []
        try:
            head_log = work_dir / "ray-head.log"
            # Ray 2.60's `ray start --head` now and then asserts that the session name it wrote
            # to its new GCS "does not match persisted value" (seen once in ~30 rig starts on
            # a loaded 2-core machine): a head that does not start gets one more try, on a
            # fresh port and temp dir.
            for attempt in (1, 2):
                port = _free_port(net.gateway)
                gcs = f"{net.gateway}:{port}"
                head_argv = [
                    # A PID namespace of its own, as on its own machine: `ray start --head`
                    # refuses to start while it sees a raylet naming its address (the hosts'
                    # nodes, all in this machine's PID namespace), which a restarted head would.
                    "unshare", "--pid", "--mount-proc", "--kill-child=SIGTERM",
                    "env", *(f"{k}={v}" for k, v in (head_env or {}).items()),
                    _RAY, "start", "--head", "--block", f"--node-ip-address={net.gateway}",
                    f"--port={port}", "--num-cpus=0", "--include-dashboard=false",
                    "--disable-usage-stats", f"--object-store-memory={_OBJECT_STORE_BYTES}",
                    f"--temp-dir={ray_dirs / f'head{attempt}'}",
                ]  # fmt: skip
                head = RayNode(None, net.gateway, _start(head_argv, head_log), head_log,
                               head_argv)  # fmt: skip
                try:
                    _wait_started(head)  # a node that cannot reach the GCS gives up after ~60 s
                    break
                except RuntimeError:
                    _stop([head])
                    if attempt == 2:
                        raise
            started.append(head)
            for host in net.hosts:
                log = work_dir / f"ray-{host.name}.log"
                resources = json.dumps({host.name: 1})
                argv = host.argv(
                    _RAY, "start", "--block", f"--address={gcs}",
                    f"--node-ip-address={host.address}", f"--num-cpus={cpus_per_host}",
                    f"--resources={resources}", "--disable-usage-stats",
                    f"--object-store-memory={_OBJECT_STORE_BYTES}",
                    f"--temp-dir={ray_dirs / host.name}",  # a host has its own disk
                )  # fmt: skip
                started.append(RayNode(host, host.address, _start(argv, log), log, argv))
            cluster = RayCluster(net, head, started[1:], gcs)
            _wait_up(cluster, host_count + 1)
            yield cluster
        finally:
            _stop(started)  # a restarted node is the same RayNode with its new process
            shutil.rmtree(ray_dirs, ignore_errors=True)
