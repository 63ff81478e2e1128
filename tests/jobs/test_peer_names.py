"""Host names a training host's process resolves: the hosts file lines and the wrapped command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tandem.jobs.container_root import container_root_unavailable
from tandem.jobs.peer_names import hosts_entries, named_hosts_argv

_RESOLVE = "import socket; print(socket.gethostbyname('algo-1'), socket.gethostbyname('algo-2'))"


def test_entries_map_each_name_to_its_address_in_name_order() -> None:
    assert hosts_entries({"algo-2": "10.1.0.3", "algo-1": "10.1.0.2"}) == (
        "10.1.0.2\talgo-1\n10.1.0.3\talgo-2\n")


def test_the_wrapped_command_resolves_the_names_and_keeps_the_node_s_own(tmp_path: Path) -> None:
    addresses = {"algo-1": "127.0.0.1", "algo-2": "10.1.0.3"}
    if container_root_unavailable() is not None:
        # No private mount namespace here: the command runs as it is, the names unresolved.
        argv = named_hosts_argv(tmp_path, addresses, [sys.executable, "-c", "print('ran')"])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
        assert done.stdout == "ran\n" and not (tmp_path / "hosts").exists()
        return
    argv = named_hosts_argv(tmp_path, addresses, [sys.executable, "-c", _RESOLVE])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.split() == ["127.0.0.1", "10.1.0.3"]
    written = (tmp_path / "hosts").read_text()
    assert written.startswith(Path("/etc/hosts").read_text())
    assert written.endswith("\n127.0.0.1\talgo-1\n10.1.0.3\talgo-2\n")
    # This machine's /etc/hosts is untouched: the mount was the process's own.
    assert "algo-2" not in Path("/etc/hosts").read_text()


def test_the_command_is_exec_d_in_place(tmp_path: Path) -> None:
    """The process tandem spawns is the host's process (signals and usage reach it)."""
    argv = named_hosts_argv(tmp_path, {"algo-1": "127.0.0.1"},
                            [sys.executable, "-c", "import os; print(os.getpid())"])
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=30)
    assert int(out) == process.pid
    assert process.returncode == 0
