"""``python -m bench.tracing_instructions``: tracing's cost per request, counted, not timed.

Timings on a small shared machine move with whatever else runs; instruction counts do not.
For each configuration (tracing off, on at 0 %, 1 % and 100 % sampling) this starts
``tandem serve`` under valgrind's callgrind (instrumentation off while it starts), deploys the
bench pipeline (three command containers, run natively), sends a warm-up, then turns
instrumentation on for ``--requests`` sequential requests (c=1, one keep-alive connection)
and dumps the counts. It prints instructions per request, for the whole server and for its
busiest thread (the event loop's); the callgrind files are kept (``--keep``) for
``callgrind_annotate``. ``--strace`` instead runs each server natively under ``strace -f -c``
for the same requests and prints its system calls per request.

    .venv/bin/python -m bench.tracing_instructions [--requests 1000] [--strace]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.pipeline import systems
from bench.pipeline.load import PAYLOAD
from bench.pipeline.tandem_system import deploy
from tests.tracing.receiver import OtlpReceiver

_SAMPLED = ("--traces-sampler", "traceidratio", "--traces-sampler-arg")
CONFIGS: dict[str, tuple[str, ...] | None] = {
    "off": None,
    "on 0%": (*_SAMPLED, "0"),
    "on 1%": (*_SAMPLED, "0.01"),
    "on 100%": (*_SAMPLED, "1.0"),
}


# ``tandem serve`` with cProfile on its main thread (the event loop's) between SIGUSR1 and
# SIGUSR2, which writes the profile to $TANDEM_PROFILE_OUT: deterministic call counts.
_PROFILED = """
import cProfile, os, runpy, signal, sys
profile = cProfile.Profile()
def stop(*_):
    profile.disable()
    profile.dump_stats(os.environ["TANDEM_PROFILE_OUT"])
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, stop)
sys.argv[0] = "tandem"
runpy.run_module("tandem", run_name="__main__", alter_sys=True)
"""


def _serve(argv_prefix: list[str], work: Path, name: str, flags: tuple[str, ...] | None,
           receiver: OtlpReceiver, tree: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    data_dir = work / re.sub(r"\W+", "-", name).strip("-")
    log = data_dir.with_suffix(".log")
    extra: tuple[str, ...] = ()
    if flags is not None:
        extra = ("--otlp-endpoint", receiver.url, "--trace-export-interval", "1", *flags)
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    python = [sys.executable, "-c", _PROFILED] if argv_prefix == ["calls"] else [
        *argv_prefix, sys.executable, "-m", "tandem"]
    argv = [*python, "serve", "--port",
            str(systems.free_port()), "--data-dir", str(data_dir), "--metrics-flush-interval",
            "1", "--log-level", "WARNING", *extra]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    pattern = re.compile(r"tandem serving on (http://\S+)")
    deadline = time.monotonic() + 600
    while True:
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return proc, match.group(1), data_dir
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name}: tandem serve did not start: "
                               f"{log.read_text(errors='replace')[-800:]}")
        time.sleep(0.2)


def _requests(url: str, n: int) -> None:
    """``n`` requests in turn on one keep-alive connection, each sent in one write as wrk
    sends it (http.client writes the body apart: whether it has arrived when the handler
    reads it then depends on timing, and so does the event loop's work)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    request = (f"POST /endpoints/bench/invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(PAYLOAD)}\r\n"
               "\r\n").encode() + PAYLOAD
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffered = b""
        for _ in range(n):
            sock.sendall(request)
            while b"\r\n\r\n" not in buffered:
                buffered += _recv(sock)
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            while len(buffered) < length:
                buffered += _recv(sock)
            buffered = buffered[length:]


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise RuntimeError("the server closed the connection")
    return data


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _callgrind_totals(files: list[Path]) -> dict[str, int]:
    """Instructions per dump file (one per thread)."""
    out: dict[str, int] = {}
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                out[f.name] = int(line.split()[1])
                break
    return out


def _count(work: Path, name: str, flags: tuple[str, ...] | None, receiver: OtlpReceiver,
           tree: Path, containers: list[dict[str, object]], args: argparse.Namespace,
           keep: Path | None) -> str:
    out_dir = work / ("cg-" + re.sub(r"\W+", "-", name).strip("-"))
    out_dir.mkdir()
    if args.calls:
        prefix = ["calls"]
        os.environ["TANDEM_PROFILE_OUT"] = str(out_dir / "profile.out")
    elif args.native:
        prefix = []
    elif args.strace:
        prefix = ["strace", "-f", "-c", "-o", str(out_dir / "strace.txt")]
    else:
        prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                  "--separate-threads=yes", f"--callgrind-out-file={out_dir}/cg.out"]
    proc, url, data_dir = _serve(prefix, work, name, flags, receiver, tree)
    try:
        deploy(url, "bench", containers, timeout=600)
        _requests(url, args.warmup)
        if args.strace:
            _requests(url, args.requests)
            _stop(proc)
            text = (out_dir / "strace.txt").read_text()
            lines = [ln for ln in text.splitlines() if re.match(r"\s*[\d.]+\s+[\d.]+", ln)]
            calls = {}
            for ln in lines:
                cols = ln.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                calls[cols[-1]] = int(cols[3])
            total = sum(v for k, v in calls.items() if k != "total")
            top = sorted(((v, k) for k, v in calls.items() if k != "total"), reverse=True)[:8]
            return (f"{name}: {total / args.requests:.1f} syscalls/request (start-up and "
                    f"warm-up included) — " +
                    ", ".join(f"{k} {v / args.requests:.2f}" for v, k in top))
        if args.native:
            return _native(proc, url, name, args)
        if args.calls:
            return _calls(proc, url, out_dir, name, args, keep)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       capture_output=True, timeout=300)
        _requests(url, args.requests)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True, timeout=300)
        time.sleep(1)
        files = sorted(out_dir.glob("cg.out.*"))
        totals = _callgrind_totals(files)
        whole = sum(totals.values())
        busiest = max(totals.values()) if totals else 0
        if keep is not None:
            dest = keep / out_dir.name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(out_dir, dest)
        per_thread = ", ".join(f"{v / args.requests / 1000:.0f}k"
                               for v in sorted(totals.values(), reverse=True) if v)
        return (f"{name}: {whole / args.requests / 1000:.1f}k instructions/request, event "
                f"loop thread {busiest / args.requests / 1000:.1f}k (threads: {per_thread})")
    finally:
        _stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


def _native(proc: subprocess.Popen[bytes], url: str, name: str,
            args: argparse.Namespace) -> str:
    import psutil

    server = psutil.Process(proc.pid)
    before = server.cpu_times()
    started = time.perf_counter()
    _requests(url, args.requests)
    wall = time.perf_counter() - started
    after = server.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return (f"{name}: {cpu / args.requests * 1e6:.1f} µs of server CPU/request "
            f"(user {(after.user - before.user) / args.requests * 1e6:.1f}), "
            f"{wall / args.requests * 1e3:.3f} ms/request")


def _calls(proc: subprocess.Popen[bytes], url: str, out_dir: Path, name: str,
           args: argparse.Namespace, keep: Path | None) -> str:
    import pstats

    os.kill(proc.pid, signal.SIGUSR1)
    _requests(url, args.requests)
    os.kill(proc.pid, signal.SIGUSR2)
    out = out_dir / "profile.out"
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    calls = sum(v[1] for v in stats.values())
    if keep is not None:
        shutil.copy(out, keep / f"{out_dir.name}.prof")
    return f"{name}: {calls / args.requests:.1f} Python and C calls/request on the event loop"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tracing_instructions",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--strace", action="store_true", help="count system calls instead")
    p.add_argument("--native", action="store_true",
                   help="no valgrind: the server's CPU time per request (noisy)")
    p.add_argument("--calls", action="store_true",
                   help="count function calls on the event loop's thread (cProfile) instead")
    p.add_argument("--only", action="append", default=None, help="a configuration's name")
    p.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                   help="the checkout whose tandem package serves")
    p.add_argument("--keep", type=Path, default=None,
                   help="copy the callgrind files here, one folder per configuration")
    args = p.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    receiver = OtlpReceiver(mode="discard").start()
    try:
        with tempfile.TemporaryDirectory(prefix="tandem-tracing-instr-") as tmp:
            work = Path(tmp)
            containers = systems.command_containers(work)
            for name, flags in CONFIGS.items():
                if args.only and name not in args.only:
                    continue
                print(_count(work, name, flags, receiver, args.tree.resolve(), containers,
                             args, args.keep), flush=True)
    finally:
        receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
