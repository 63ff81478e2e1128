"""Emulated hosts on one machine: Linux network namespaces joined by a bridge.

Each rig takes a *slot* (0-9) under a lock file, so two suites on one machine never share
addresses or names: bridge ``tdm<slot>br`` at 10.231.<slot>.1/24 in the root namespace, and
per host a namespace ``tdm<slot>-h<i>`` whose veth holds 10.231.<slot>.1<i>. A slot whose lock
is free but whose links or namespaces exist was left by a killed run: it is cleaned first.
Interface names stay within Linux's 15 characters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Host", "Network", "NamespacesUnavailable", "network", "processes_in"]

_LOCK_DIR = Path("/run/lock")
_SLOTS = range(10)


class NamespacesUnavailable(RuntimeError):
    """This machine cannot make network namespaces (not root, no ``ip``, no CAP_NET_ADMIN)."""


@dataclasses.dataclass(frozen=True)
class Host:
    """One emulated host: a namespace with one address on the bridge."""

    name: str  # also its Ray custom resource, so a test can pin work to it
    namespace: str
    address: str

    def argv(self, *command: str) -> list[str]:
        """``command`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *command]


@dataclasses.dataclass(frozen=True)
class Network:
    slot: int
    bridge: str
    gateway: str  # the root namespace's address on the bridge: where the head listens
    hosts: tuple[Host, ...]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _netns_inode(namespace: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{namespace}").st_ino
    except OSError:
        return None


def processes_in(namespace: str) -> list[int]:
    """PIDs whose network namespace is ``namespace`` (read from /proc, not from ``ip``)."""
    inode = _netns_inode(namespace)
    if inode is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                found.append(int(entry))
    return found


def _kill_all_in(namespace: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_in(namespace)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while processes_in(namespace) and time.monotonic() < deadline:
            time.sleep(0.1)


def _names(slot: int, count: int) -> tuple[str, list[str]]:
    return f"tdm{slot}br", [f"tdm{slot}-h{i}" for i in range(1, count + 1)]


def _remove(slot: int, count: int = 9) -> None:
    bridge, namespaces = _names(slot, count)
    for namespace in namespaces:
        if _netns_inode(namespace) is not None:
            _kill_all_in(namespace)
            _ip("netns", "del", namespace, check=False)
        _ip("link", "del", f"{namespace.replace('-', '')}p", check=False)
    _ip("link", "del", bridge, check=False)


def _check_possible() -> None:
    if shutil.which("ip") is None:
        raise NamespacesUnavailable("the `ip` command (iproute2) is not installed")
    if os.geteuid() != 0:
        raise NamespacesUnavailable("making network namespaces needs root")


@contextlib.contextmanager
def network(host_count: int) -> Iterator[Network]:
    """A bridge and ``host_count`` namespaces on it; all removed on exit, whatever happened."""
    _check_possible()
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for slot in _SLOTS:
        lock = open(_LOCK_DIR / f"tandem-multihost-{slot}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            _remove(slot)  # a killed run's leftovers
            try:
                yield _build(slot, host_count)
            finally:
                _remove(slot, host_count)
            return
        finally:
            lock.close()
    raise NamespacesUnavailable(f"all {len(_SLOTS)} multihost slots are taken on this machine")


def _build(slot: int, host_count: int) -> Network:
    bridge, namespaces = _names(slot, host_count)
    subnet = f"10.231.{slot}"
    try:
        _ip("link", "add", bridge, "type", "bridge")
    except subprocess.CalledProcessError as exc:
        raise NamespacesUnavailable(f"cannot make a bridge: {exc.stderr.strip()}") from None
    _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
    _ip("link", "set", bridge, "up")
    hosts = []
    for i, namespace in enumerate(namespaces, start=1):
        inner, outer = f"{namespace.replace('-', '')}v", f"{namespace.replace('-', '')}p"
        _ip("netns", "add", namespace)
        _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
        _ip("link", "set", inner, "netns", namespace)
        _ip("link", "set", outer, "master", bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{subnet}.1{i}/24", "dev", inner)
        _ip("-n", namespace, "link", "set", inner, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "route", "add", "default", "via", f"{subnet}.1")
        hosts.append(Host(name=f"tdm-h{i}", namespace=namespace, address=f"{subnet}.1{i}"))
    return Network(slot=slot, bridge=bridge, gateway=f"{subnet}.1", hosts=tuple(hosts))
