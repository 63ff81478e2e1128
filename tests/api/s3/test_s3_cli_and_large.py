"""The AWS CLI's ``aws s3`` round-tripping a directory, and large multipart bodies: streamed
to disk (the server's memory does not grow with them), byte-exact back, ranged GETs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from boto3.s3.transfer import TransferConfig

from tests.api.s3.conftest import s3_client
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-s3-cli")).start()
    yield proc
    proc.stop()


def _aws(server: ServerProcess, home: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_ENDPOINT_URL": server.url,
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run([AWS, *args], capture_output=True, text=True, env=env, timeout=300,
                          cwd=home)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_aws_s3_cp_ls_sync_round_trip_100_files(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "source"
    for i in range(100):
        path = source / f"part-{i % 7}" / f"file {i:03d}+x.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sizes from empty to over the CLI's 8 MiB multipart threshold.
        size = 9 * MiB if i == 42 else (i * 7919) % 70_000
        path.write_bytes(os.urandom(size))
    _aws(server, tmp_path, "s3", "mb", "s3://cli-round-trip")
    _aws(server, tmp_path, "s3", "cp", "--recursive", str(source), "s3://cli-round-trip/data/")
    listing = _aws(server, tmp_path, "s3", "ls", "--recursive", "s3://cli-round-trip/")
    assert len(listing.splitlines()) == 100
    top = _aws(server, tmp_path, "s3", "ls", "s3://cli-round-trip/data/")
    assert sorted(line.split()[-1] for line in top.splitlines()) == [
        f"part-{i}/" for i in range(7)]
    copy = tmp_path / "copy"
    _aws(server, tmp_path, "s3", "sync", "s3://cli-round-trip/data/", str(copy))
    assert _tree(copy) == _tree(source)
    # Unchanged files are not sent again; a changed one is.
    (source / "part-1" / "file 001+x.bin").write_bytes(b"changed")
    synced = _aws(server, tmp_path, "s3", "sync", "--no-progress", str(source),
                  "s3://cli-round-trip/data/")
    assert synced.splitlines() == [
        "upload: source/part-1/file 001+x.bin to s3://cli-round-trip/data/part-1/file 001+x.bin"]
    again = tmp_path / "again"
    _aws(server, tmp_path, "s3", "cp", "--recursive", "s3://cli-round-trip/data/", str(again))
    assert _tree(again) == _tree(source)
    # Over the multipart threshold, a copy between keys is UploadPartCopy server-side.
    big = "s3://cli-round-trip/data/part-0/file 042+x.bin"
    _aws(server, tmp_path, "s3", "cp", big, "s3://cli-round-trip/copied.bin")
    _aws(server, tmp_path, "s3", "cp", "s3://cli-round-trip/copied.bin", str(tmp_path / "c.bin"))
    assert (tmp_path / "c.bin").read_bytes() == (source / "part-0" / "file 042+x.bin").read_bytes()
    _aws(server, tmp_path, "s3", "rb", "--force", "s3://cli-round-trip")
    assert "cli-round-trip" not in _aws(server, tmp_path, "s3", "ls")


def _peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    proc = psutil.Process(pid)
    while not stop.wait(0.05):
        peak[0] = max(peak[0], proc.memory_info().rss)


def test_200_mb_multipart_upload_streams_to_disk_and_reads_back_by_range(
    server: ServerProcess, tmp_path: Path
) -> None:
    s3: Any = s3_client(server.url)
    s3.create_bucket(Bucket="large")
    big = tmp_path / "big.bin"
    digest = hashlib.md5()
    with open(big, "wb") as f:
        for _ in range(200):
            block = os.urandom(MiB)
            digest.update(block)
            f.write(block)
    assert server.proc is not None
    baseline = psutil.Process(server.proc.pid).memory_info().rss
    peak, stop = [baseline], threading.Event()
    sampler = threading.Thread(target=_peak_rss, args=(server.proc.pid, stop, peak))
    sampler.start()
    try:
        s3.upload_file(str(big), "large", "model/big.bin",
                       Config=TransferConfig(multipart_chunksize=16 * MiB, max_concurrency=4))
    finally:
        stop.set()
        sampler.join()
    # Parts are streamed to files: the server holds a few MiB per request, not the body.
    assert peak[0] - baseline < 100 * MiB
    head = s3.head_object(Bucket="large", Key="model/big.bin")
    assert head["ContentLength"] == 200 * MiB
    assert head["ETag"].endswith('-13"')
    with open(big, "rb") as f:
        f.seek(150 * MiB + 17)
        expected = f.read(MiB)
    ranged = s3.get_object(Bucket="large", Key="model/big.bin",
                           Range=f"bytes={150 * MiB + 17}-{151 * MiB + 16}")
    assert ranged["Body"].read() == expected
    back = tmp_path / "back.bin"
    s3.download_file("large", "model/big.bin", str(back))
    check = hashlib.md5()
    with open(back, "rb") as f:
        while block := f.read(8 * MiB):
            check.update(block)
    assert check.hexdigest() == digest.hexdigest()
    s3.delete_object(Bucket="large", Key="model/big.bin")
