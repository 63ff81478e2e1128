"""Spawning a supervised child: explicit argv, env and cwd, its own session, parent-death signal.

Nothing is inherited from the server: the child's environment is exactly ``env``. It leads a
new session (``start_new_session``: pgid = sid = pid), so its whole tree can be signalled as
one group and swept by session id even if a grandchild changes group. ``PR_SET_PDEATHSIG``
makes the kernel kill it the moment the thread that forked it dies (Linux only).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

from tandem.eventloop import blocking_expected

__all__ = ["SPAWN_BLOCKS", "child_setup", "spawn"]

PR_SET_PDEATHSIG = 1

# Why spawning blocks the loop (``tandem.eventloop.blocking_expected``): fork and exec must run
# on the thread that lives as long as the server, since the kernel's parent-death signal
# follows the spawning thread; the parent waits for the child's exec there.
SPAWN_BLOCKS = "spawning a child (fork and exec on the loop's thread, for PR_SET_PDEATHSIG)"


def child_setup(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with the forking thread (Linux only).

    libc is loaded here, before fork, so the child only calls into it.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died between fork and prctl; then no signal will ever come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


async def spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None
) -> asyncio.subprocess.Process:
    """Start ``argv`` as a session leader, stdout and stderr merged into one pipe.

    Raises ``OSError`` when the program cannot be started (missing, not executable, bad cwd).
    """
    with blocking_expected(SPAWN_BLOCKS):
        return await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_setup(os.getpid()),
        )
