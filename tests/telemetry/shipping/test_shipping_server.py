"""Shippers against a real server on an ephemeral port: lines arrive in order and counted
exactly, a server stopped for 10 s loses nothing, the spool keeps its bound, metrics land
with local mode's dimensions."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tandem.telemetry.logs import StreamCapture
from tandem.telemetry.shipping import LogShipper, MetricShipper
from tests.server_process import ServerProcess
from tests.telemetry.shipping.support import auth_flags, client, shipper_config, stream_messages

pytestmark = pytest.mark.slow

GROUP = "/aws/sagemaker/Endpoints/shipped"


async def test_lines_arrive_in_order_with_exact_counts(
    server: ServerProcess, tmp_path: Path
) -> None:
    shipper = LogShipper(shipper_config(server.url, tmp_path))
    await shipper.start()
    streams = ["AllTraffic/i-0aaa/first", "AllTraffic/i-0aaa/second"]
    for stream in streams:
        await asyncio.to_thread(shipper.ensure_log_stream, GROUP, stream)
    # 25,000 lines per stream, written interleaved in chunks as captures write them: more
    # than two full PutLogEvents batches each.
    now = int(time.time() * 1000)
    for chunk in range(50):
        for stream in streams:
            lines = [(now + chunk, f"{stream} line {chunk * 500 + i}") for i in range(500)]
            await shipper.write(GROUP, stream, lines)
    # A real child's pipe through the capture, as the agent wires it.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "for i in range(3000): print('child', i)",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    capture = StreamCapture(shipper, GROUP, "AllTraffic/i-0aaa/child")  # type: ignore[arg-type]
    assert await capture.run(proc.stdout) == 3000
    await proc.wait()
    await shipper.flush()
    stats = shipper.stats
    await shipper.stop()

    logs = client(server.url, "logs")
    for stream in streams:
        got = stream_messages(logs, GROUP, stream)
        assert got == [f"{stream} line {i}" for i in range(25_000)]
    assert stream_messages(logs, GROUP, "AllTraffic/i-0aaa/child") == [
        f"child {i}" for i in range(3000)
    ]
    assert (stats.written, stats.delivered, stats.queued, stats.spooled) == (53_000, 53_000, 0, 0)
    assert stats.refused == stats.rejected == stats.spool_dropped == 0
    # 25,000 lines of 30-odd bytes fit 10,000 a batch: at least 3 PutLogEvents a stream and one
    # for the child (more where a flush interval fell between writes), one creation a stream.
    assert stats.outbox.delivered_requests >= 3 + 3 + 1 + 3
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)[
        "logStreams"]]
    assert sorted(names) == sorted([*streams, "AllTraffic/i-0aaa/child"])


async def test_stream_exists_before_its_first_line(server: ServerProcess, tmp_path: Path) -> None:
    """As in local mode, an ensured stream exists on the server even while it has no line."""
    shipper = LogShipper(shipper_config(server.url, tmp_path))
    await shipper.start()
    await asyncio.to_thread(shipper.ensure_log_stream, GROUP, "AllTraffic/i-0bbb")
    await shipper.flush()
    await shipper.stop()
    logs = client(server.url, "logs")
    described = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in described] == ["AllTraffic/i-0bbb"]


async def test_server_stopped_for_ten_seconds_loses_no_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, extra=auth_flags(tmp_path)).start()
    port = int(first.url.rsplit(":", 1)[1])
    shipper = LogShipper(shipper_config(first.url, tmp_path))
    metrics = MetricShipper(shipper_config(first.url, tmp_path))
    await shipper.start()
    await metrics.start()
    stream = "AllTraffic/i-0ccc"
    cpu = metrics.series("/aws/sagemaker/Endpoints", "CPUUtilization",
                         {"Host": "shipped/AllTraffic/i-0ccc"}, "Percent")
    written = 0
    stop = asyncio.Event()

    async def produce() -> None:
        nonlocal written
        while not stop.is_set():
            now = int(time.time() * 1000)
            await shipper.write(GROUP, stream, [(now, f"line {written + i}") for i in range(50)])
            written += 50
            cpu.record(1.0)
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(produce())
    second: ServerProcess | None = None
    try:
        await asyncio.sleep(2)
        await asyncio.to_thread(first.stop)
        down_at = written
        await asyncio.sleep(10)
        assert shipper.stats.spooled > 0  # the outage went to disk
        second = await asyncio.to_thread(
            ServerProcess(data, extra=auth_flags(tmp_path), port=port).start
        )
        await asyncio.sleep(2)
        stop.set()
        await producer
        await asyncio.wait_for(shipper.flush(), 60)
        await asyncio.wait_for(metrics.flush(), 60)
        stats = shipper.stats
        assert written > down_at > 0
        got = stream_messages(client(second.url, "logs"), GROUP, stream)
        assert got == [f"line {i}" for i in range(written)]
        assert (stats.delivered, stats.spooled, stats.spool_dropped) == (written, 0, 0)
        assert stats.outbox.spooled_requests > 0 and stats.outbox.failed_attempts > 0

        cloudwatch = client(second.url, "cloudwatch")
        points = cloudwatch.get_metric_statistics(
            Namespace="/aws/sagemaker/Endpoints", MetricName="CPUUtilization",
            Dimensions=[{"Name": "Host", "Value": "shipped/AllTraffic/i-0ccc"}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=3600, Statistics=["SampleCount"],
        )["Datapoints"]
        assert sum(p["SampleCount"] for p in points) == metrics.recorded
    finally:
        stop.set()
        await producer
        await shipper.stop(timeout=1)
        await metrics.stop(timeout=1)
        if second is not None:
            second.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    bound = 400_000
    shipper = LogShipper(shipper_config(url, tmp_path, spool_max_bytes=bound))
    await shipper.start()
    stream = "AllTraffic/i-0ddd"
    now = int(time.time() * 1000)
    lines = [f"line {i:06d} " + "x" * 80 for i in range(20_000)]  # about 1.9 MB of messages
    for start in range(0, len(lines), 200):
        await shipper.write(GROUP, stream, [(now, m) for m in lines[start : start + 200]])
        await asyncio.sleep(0.05)  # a trickle: requests of ~100 KB, a fraction of the bound
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = shipper.stats
        if stats.spooled + stats.spool_dropped == len(lines):
            break
        await asyncio.sleep(0.1)
    stats = shipper.stats
    spool = tmp_path / "spool" / "logs"
    on_disk = sum(f.stat().st_size for f in spool.iterdir())
    assert on_disk <= bound
    assert stats.spool_dropped > 0 and stats.delivered == 0
    assert stats.spooled + stats.spool_dropped == len(lines)

    server = ServerProcess(tmp_path / "data", extra=auth_flags(tmp_path), port=port).start()
    try:
        await asyncio.wait_for(shipper.flush(), 60)
        await shipper.stop()
        got = stream_messages(client(url, "logs"), GROUP, stream)
    finally:
        server.stop()
    # What arrived is exactly the newest lines: the oldest went when the spool was full.
    assert got == lines[stats.spool_dropped :]


async def test_what_a_gone_server_did_not_take_goes_where_ship_to_names(
    server: ServerProcess, tmp_path: Path
) -> None:
    # The server that started the agent is gone (a standby took the lead elsewhere): lines
    # and samples wait for it until the new server names itself, then reach that one.
    gone = f"http://127.0.0.1:{_free_port()}"
    shipper = LogShipper(shipper_config(gone, tmp_path / "logs"))
    metrics = MetricShipper(shipper_config(gone, tmp_path / "metrics"))
    await shipper.start()
    await metrics.start()
    stream = "AllTraffic/i-0fff"
    host = {"Host": "shipped/AllTraffic/i-0fff"}
    cpu = metrics.series("/aws/sagemaker/Endpoints", "CPUUtilization", host, "Percent")
    try:
        now = int(time.time() * 1000)
        await shipper.write(GROUP, stream, [(now, f"line {i}") for i in range(100)])
        for _ in range(5):
            cpu.record(2.0)
        deadline = time.monotonic() + 30
        while shipper.stats.outbox.failed_attempts == 0 or metrics.stats.failed_attempts == 0:
            assert time.monotonic() < deadline, "no delivery was tried"
            await asyncio.sleep(0.05)
        shipper.ship_to(server.url + "/")
        metrics.ship_to(server.url)
        assert shipper.config.server_url == metrics.config.server_url == server.url
        await asyncio.wait_for(shipper.flush(), 60)
        await asyncio.wait_for(metrics.flush(), 60)
        got = stream_messages(client(server.url, "logs"), GROUP, stream)
        assert got == [f"line {i}" for i in range(100)]
        points = client(server.url, "cloudwatch").get_metric_statistics(
            Namespace="/aws/sagemaker/Endpoints", MetricName="CPUUtilization",
            Dimensions=[{"Name": "Host", "Value": host["Host"]}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=3600, Statistics=["SampleCount", "Sum"],
        )["Datapoints"]  # fmt: skip
        assert [(p["SampleCount"], p["Sum"]) for p in points] == [(5.0, 10.0)]
    finally:
        await shipper.stop(timeout=1)
        await metrics.stop(timeout=1)


async def test_deleted_group_is_created_again(server: ServerProcess, tmp_path: Path) -> None:
    shipper = LogShipper(shipper_config(server.url, tmp_path))
    await shipper.start()
    stream = "AllTraffic/i-0eee"
    now = int(time.time() * 1000)
    await shipper.write(GROUP, stream, [(now, f"before {i}") for i in range(10)])
    await shipper.flush()
    logs = client(server.url, "logs")
    logs.delete_log_group(logGroupName=GROUP)
    await shipper.write(GROUP, stream, [(now + 1, f"after {i}") for i in range(10)])
    await shipper.flush()
    stats = shipper.stats
    await shipper.stop()
    assert stream_messages(logs, GROUP, stream) == [f"after {i}" for i in range(10)]
    assert (stats.recreated_streams, stats.delivered, stats.refused) == (1, 20, 0)


async def test_usage_metrics_land_with_local_dimensions(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The agent's usage series (both dimension sets, as local mode records them) are
    queryable with GetMetricStatistics, percentiles included."""
    metrics = MetricShipper(shipper_config(server.url, tmp_path))
    await metrics.start()
    namespace = "/aws/sagemaker/Endpoints"
    dimension_sets = [
        {"Host": "shipped/AllTraffic/i-0fff"},
        {"EndpointName": "shipped", "VariantName": "AllTraffic"},
    ]
    for value in [10.0, 20.0, 30.0, 40.0]:
        for dims in dimension_sets:
            metrics.series(namespace, "CPUUtilization", dims, "Percent").record(value)
            metrics.series(namespace, "MemoryUtilization", dims, "Percent").record(value / 10)
    await metrics.flush()
    await metrics.stop()
    assert (metrics.stats.delivered_items, metrics.stats.refused_items) == (4, 0)

    cloudwatch = client(server.url, "cloudwatch")
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in listed
    ) == sorted(
        (name, tuple(sorted(dims.items())))
        for name in ("CPUUtilization", "MemoryUtilization")
        for dims in dimension_sets
    )
    for dims in dimension_sets:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName="CPUUtilization",
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=3600, Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
            Unit="Percent",
        )["Datapoints"]
        assert len(points) == 1
        p = points[0]
        assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (4, 100, 10, 40)
        p99 = cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName="CPUUtilization",
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=3600, ExtendedStatistics=["p100"],
        )["Datapoints"]
        assert p99[0]["ExtendedStatistics"]["p100"] == pytest.approx(40, rel=0.02)


async def test_refused_and_rejected_are_counted_and_shipping_goes_on(
    server: ServerProcess, tmp_path: Path
) -> None:
    """A request the server refuses as a whole is dropped and counted, an event it rejects
    alone is counted, and the requests behind them are delivered."""
    metrics = MetricShipper(shipper_config(server.url, tmp_path / "m"))
    logs = LogShipper(shipper_config(server.url, tmp_path / "l"))
    await metrics.start()
    await logs.start()
    # Namespaces starting AWS/ are refused (InvalidParameterValue), whatever the values.
    metrics.series("AWS/Reserved", "Custom", {"Host": "h"}).record(1.0)
    await metrics.flush()
    metrics.series("Shipped/Custom", "Custom", {"Host": "h"}).record(2.0)
    await metrics.flush()
    now = int(time.time() * 1000)
    fifteen_days = 15 * 86_400_000
    await logs.write(GROUP, "s", [(now - fifteen_days, "too old"), (now, "fresh")])
    await logs.flush()
    await metrics.stop()
    await logs.stop()
    assert (metrics.stats.refused_items, metrics.stats.delivered_items) == (1, 1)
    stats = logs.stats
    assert (stats.rejected, stats.delivered, stats.refused) == (1, 2, 0)
    assert stream_messages(client(server.url, "logs"), GROUP, "s") == ["fresh"]
    listed = client(server.url, "cloudwatch").list_metrics(Namespace="Shipped/Custom")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["Custom"]
