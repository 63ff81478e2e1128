"""Separate virtual environments for the peers, under bench/.peers/ (gitignored).

Created on first use and reused: a venv counts as ready once ``ready.json`` (the pinned
requirement and the versions pip actually installed) is written after a successful install.
A failed install never raises: it returns the reason, which the table shows as
"not installed: <reason>".
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["PEERS", "PeerEnv", "ensure_peer"]

ROOT = Path(__file__).resolve().parent.parent / ".peers"

# Pinned: the figures in docs/performance/pipeline.md were measured with exactly these.
PEERS: dict[str, tuple[str, ...]] = {
    "ray": ("ray[serve]==2.60.0",),
    "bentoml": ("bentoml==1.4.40",),
}
# The packages whose versions the report names.
_REPORTED = {"ray": ("ray", "fastapi", "uvicorn", "starlette"),
             "bentoml": ("bentoml", "uvicorn", "starlette", "httpx", "aiohttp")}
_INSTALL_TIMEOUT = 1500.0


@dataclasses.dataclass(frozen=True)
class PeerEnv:
    name: str
    python: Path | None           # None when not installed
    versions: dict[str, str]
    error: str | None = None


def _versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            f"for n in {list(names)!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "out['python'] = sys.version.split()[0]\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error" in line]
    return (errors or lines or ["no output"])[-1][:160]


def ensure_peer(name: str, *, log=print) -> PeerEnv:  # type: ignore[no-untyped-def]
    """The peer's venv, created and installed on first use; never raises."""
    home = ROOT / name
    python = home / "bin" / "python"
    marker = home / "ready.json"
    if marker.exists() and python.exists():
        return PeerEnv(name, python, json.loads(marker.read_text()))
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(home)], check=True,
                           capture_output=True, text=True, timeout=300)
        log(f"installing {' '.join(PEERS[name])} into {home} (first use; minutes)")
        started = time.monotonic()
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             *PEERS[name]],
            capture_output=True, text=True, timeout=_INSTALL_TIMEOUT,
        )
        if done.returncode != 0:
            return PeerEnv(name, None, {}, f"pip: {_last_line(done.stderr or done.stdout)}")
        versions = _versions(python, _REPORTED[name])
        versions["requirement"] = " ".join(PEERS[name])
        marker.write_text(json.dumps(versions, indent=1))
        log(f"installed {name} in {time.monotonic() - started:.0f} s: {versions}")
        return PeerEnv(name, python, versions)
    except subprocess.TimeoutExpired:
        return PeerEnv(name, None, {}, f"pip install took over {_INSTALL_TIMEOUT:.0f} s")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return PeerEnv(name, None, {}, f"venv: {_last_line(str(detail))}")


if __name__ == "__main__":
    for peer in sys.argv[1:] or list(PEERS):
        print(ensure_peer(peer))
