"""The floor under the two Put figures: what a bare HTTP server costs, beside tandem and moto.

    .venv/bin/python -m bench.aws_api.floor [--calls 600]

Times the bench's PutMetricData (20 datums) and PutLogEvents (1,000 events) calls, made by
boto3 exactly as ``bench.aws_api`` makes them, against moto, tandem, a *bare* server and the
stub replaying tandem's recorded bodies, in an order rotated every repeat as the bench rotates
its targets. The bare server is the least any aiohttp-based server can do: uvloop, aiohttp's
low-level server (no application, router or middleware), read the body, ``orjson.loads`` it,
answer ``{}``. Each share is a p50 minus the stub's p50, as in the bench; "10x allows" is
moto's share over ten, the most tandem's share may be for the issue's 10x target.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.aws_api.figures import Clients, figures, make_day, seed
from bench.aws_api.replay import Recorder, make_client, stub_server
from tests.api.differential.moto_server import MotoServer
from tests.server_process import ServerProcess

TARGETS = ("moto", "tandem", "bare", "stub-tandem")
KEYS = ("put_metric_data", "put_log_events")


def serve_bare() -> None:
    """The bare server (a child process): prints its URL, then serves until killed."""
    import orjson
    import uvloop
    from aiohttp import web

    async def handle(request: web.BaseRequest) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(body=b"{}", headers={
            "Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4()),
        })  # fmt: skip

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            web.Server(handle, access_log=None), "127.0.0.1", 0
        )
        print(f"bare on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


def _clients(url: str) -> Clients:
    return Clients(make_client("cloudwatch", url), make_client("logs", url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=600, help="timed calls per target")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare()
        return
    base_ms = int(time.time() * 1000) - 3_600_000
    day = make_day()
    # Enough PutLogEvents batches for every call; nothing else of the bench's data is timed.
    repeats = {"put": args.calls, "gms": 1, "list": 1, "get": 1, "filter": 1}
    chosen = {f.key: f for f in figures(day, 100, 1000 * (args.calls + 2), repeats, base_ms)
              if f.key in KEYS}  # fmt: skip
    bare = subprocess.Popen([sys.executable, "-m", "bench.aws_api.floor", "--serve-bare"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tandem = ServerProcess(Path(tmp) / "tandem", extra=[]).start()
        moto = MotoServer().start()
        try:
            assert bare.stdout is not None
            bare_url = bare.stdout.readline().split()[-1]
            servers = {"moto": _clients(moto.url), "tandem": _clients(tandem.url)}
            for c in servers.values():
                seed(c, day, 100)
            clients = {**servers, "bare": _clients(bare_url)}
            print(f"# {args.calls} calls per target, order rotated each repeat; p50s in ms")
            print("| figure | moto | tandem | bare | stub-tandem | moto share | tandem share "
                  "| bare share | 10x allows | bare share / allowed |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for key in KEYS:
                fig = chosen[key]
                recorder = Recorder(servers["tandem"].cloudwatch, servers["tandem"].logs)
                recorder.on = True
                fig.call(servers["tandem"], fig.arg(0))
                recorder.on = False
                path = recorder.save(Path(tmp) / f"{key}.pickle")
                with stub_server(path) as (stub_url, _):
                    targets = {**clients, "stub-tandem": _clients(stub_url)}
                    fig.call(targets["stub-tandem"], fig.arg(0))
                    fig.call(targets["bare"], fig.arg(0))
                    times: dict[str, list[float]] = {t: [] for t in TARGETS}
                    for i in range(args.calls):
                        arg = fig.arg(i + 1)
                        for t in TARGETS[i % 4:] + TARGETS[: i % 4]:
                            t0 = time.perf_counter()
                            fig.call(targets[t], arg)
                            times[t].append(time.perf_counter() - t0)
                p50 = {t: statistics.median(v) * 1000 for t, v in times.items()}
                share = {t: p50[t] - p50["stub-tandem"] for t in ("moto", "tandem", "bare")}
                allowed = share["moto"] / 10
                print(f"| {fig.title} | {p50['moto']:.2f} | {p50['tandem']:.2f} | "
                      f"{p50['bare']:.2f} | {p50['stub-tandem']:.2f} | {share['moto']:.2f} | "
                      f"{share['tandem']:.2f} | {share['bare']:.2f} | {allowed:.2f} | "
                      f"{share['bare'] / allowed:.0%} |", flush=True)  # fmt: skip
        finally:
            bare.kill()
            moto.stop()
            tandem.stop()


if __name__ == "__main__":
    main()
