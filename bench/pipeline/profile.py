"""Profile a server process under load with py-spy (sampling, from outside the process).

``py-spy record --format raw`` writes collapsed stacks ("f1;f2;f3 count"); the summary is
the top frames by self time (where the CPU actually was) and by inclusive time (which
calls of ours the time is spent under).
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["start_profile", "summarize"]


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str, line: bool = True) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py:123)", or "func (module.py)"
    name, _, where = frame.partition(" (")
    if not where:
        return name
    place = Path(where.rstrip(")")).name
    return f"{name} ({place if line else place.rpartition(':')[0]})"


def summarize(path: Path, top: int = 15) -> tuple[int, list[tuple[str, float]],
                                                  list[tuple[str, float]]]:
    """Samples of the event loop's thread, its top frames by self share, and its top
    tandem/aiohttp/asyncio functions by inclusive share (background threads left out)."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or "_run_once" not in stack:
            continue  # only the event loop's thread: the request path
        n = int(count)
        total += n
        frames = stack.split(";")
        self_counts[_short(frames[-1])] += n
        # Inclusive time per function (not per line), each function once per stack.
        for frame in {_short(f, line=False) for f in frames}:
            incl[frame] += n
    if not total:
        return 0, [], []
    by_self = [(f, n / total) for f, n in self_counts.most_common(top)]
    ours = [(f, n / total) for f, n in incl.most_common()
            if any(k in f for k in ("router.py", "runtime.py", "web_protocol.py", "client.py",
                                    "client_reqrep.py", "connector.py", "series.py",
                                    "base_events.py", "selector_events.py"))][:top]
    return total, by_self, ours
