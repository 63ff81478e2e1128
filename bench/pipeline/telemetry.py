"""The telemetry benches, rerun in the same command with their quick settings; their
headline lines go into the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["run_telemetry_benches"]

ROOT = Path(__file__).resolve().parent.parent.parent
# (module, extra argv, substrings of the headline lines)
_BENCHES = (
    ("bench.metrics_bench", (), ("series.record (bound handle)", "prometheus bound child",
                                 "GetMetricStatistics")),
    ("bench.logs_bench", ("--seconds", "2", "--events", "100000"),
     ("capture to disk", "term filter", "newest")),
)


def run_telemetry_benches(timeout: float = 600.0) -> list[str]:
    lines: list[str] = []
    for module, argv, wanted in _BENCHES:
        try:
            done = subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            lines.append(f"{module}: timed out after {timeout:.0f} s")
            continue
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            lines.append(f"{module}: failed ({tail[:160]})")
            continue
        picked = [ln.strip() for ln in done.stdout.splitlines()
                  if any(w in ln for w in wanted)]
        lines.extend(f"{module}: {ln}" for ln in (picked or done.stdout.splitlines()[-3:]))
    return lines
