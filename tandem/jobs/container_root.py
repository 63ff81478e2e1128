"""A training host's ``/opt/ml`` at that very path, for commands written for a container.

A job that names ``ContainerEntrypoint`` (the SageMaker Python SDK 3.x ModelTrainer always
does: ``/bin/bash -c ".../sm_drivers/sm_train.sh"``) runs scripts that read and write
``/opt/ml/input/config``, ``/opt/ml/input/data/<channel>``, ``/opt/ml/model`` by absolute
path. tandem gives each such host process a private mount namespace (util-linux ``unshare``,
with a user namespace when not root) in which the host's own directory is mounted at
``/opt/ml``, as a container would see it; nothing outside the process sees the mount. Where
``/opt/ml`` does not exist, ``/opt`` becomes a fresh tmpfs with the real ``/opt``'s entries
mounted back in (so tools installed under ``/opt`` still run) and an empty ``ml`` to mount on.
The command is exec'd in place, so the host's process is still the one tandem started.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CONTAINER_ROOT", "container_argv", "container_root_unavailable"]

CONTAINER_ROOT = "/opt/ml"

# $1: the host's directory; $2: a directory (made here: it may be on another host than the
# planner's) to keep the real /opt reachable in; the rest: the command.
_MOUNT_AND_EXEC = r"""
set -e
root=$1 keep=$2
shift 2
if [ ! -d /opt/ml ]; then
  mkdir -p "$keep"
  [ -d /opt ] && mount --rbind /opt "$keep"
  mount -t tmpfs -o mode=755 tandem-opt /opt
  for entry in "$keep"/* "$keep"/.[!.]* "$keep"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "/opt/$name"
    elif [ -d "$entry" ]; then mkdir "/opt/$name"; mount --rbind "$entry" "/opt/$name"
    else : > "/opt/$name"; mount --bind "$entry" "/opt/$name"; fi
  done
  mkdir /opt/ml
fi
mount --rbind "$root" /opt/ml
exec "$@"
"""


def _unshare() -> list[str]:
    argv = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        argv.append("--map-root-user")  # an unprivileged user may mount in its own namespace
    return argv


def container_argv(root: Path | str, command: Sequence[str]) -> list[str]:
    """``command`` run with ``root`` mounted at /opt/ml (the keep directory is beside
    ``root``, made when the command starts; ``root`` may be ``INSTANCE_ROOT``)."""
    keep = f"{root}-opt"
    return [*_unshare(), "/bin/sh", "-c", _MOUNT_AND_EXEC, "sh", str(root), keep, *command]


@functools.cache
def container_root_unavailable() -> str | None:
    """Why this machine cannot give a process its own /opt/ml (None: it can). Tried once, with
    the same mounts a job makes, on a scratch directory."""
    if shutil.which("unshare") is None:
        return "util-linux's 'unshare' is not installed"
    with tempfile.TemporaryDirectory(prefix="tandem-optml-") as scratch:
        root = Path(scratch) / "algo-1"
        root.mkdir()
        try:
            done = subprocess.run(
                container_argv(root, ["/bin/sh", "-c", "touch /opt/ml/probe"]),
                capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"'unshare' could not run: {exc}"
        if done.returncode != 0 or not (root / "probe").is_file():
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"a private mount namespace was refused ({detail})"
    return None
