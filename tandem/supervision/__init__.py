"""Supervision of child process trees: the one way tandem starts, watches, samples and stops
the processes of endpoint containers, training hosts, transform instances, lifecycle scripts
and Jupyter servers.

``spawner`` starts a child (explicit argv/env/cwd, its own session, parent-death signal),
``process`` watches and stops one child's whole session, ``usage`` samples a process tree's
instance metrics, and ``fate_sharing`` makes sure no child outlives the server, even when the
server is SIGKILLed.
"""

from .fate_sharing import FateSharing, SessionEntry, kill_sessions, read_stat, session_members
from .process import OutputCapture, SessionGuard, SupervisedProcess
from .spawner import SPAWN_BLOCKS, child_setup, spawn
from .usage import UsageSampler

__all__ = [
    "FateSharing",
    "SessionEntry",
    "kill_sessions",
    "read_stat",
    "session_members",
    "OutputCapture",
    "SessionGuard",
    "SupervisedProcess",
    "SPAWN_BLOCKS",
    "child_setup",
    "spawn",
    "UsageSampler",
]
