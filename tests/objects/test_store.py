"""The file-backed store: objects are plain files at <root>/<bucket>/<key>, written in one
rename; keys never leave their bucket; S3's rules for buckets and multipart uploads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tandem.objects import FileObjectStore, MultipartUploads, ObjectAttributes
from tandem.objects.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidObjectName,
    InvalidPart,
    InvalidPartOrder,
    KeyConflict,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)

MiB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> FileObjectStore:
    s = FileObjectStore(tmp_path / "s3")
    s.create_bucket("bkt")
    return s


def _put(store: FileObjectStore, key: str, data: bytes, bucket: str = "bkt") -> None:
    with store.begin_write(bucket, key) as writer:
        writer.write(data)
        store.commit(bucket, key, writer, ObjectAttributes(content_type="text/plain"))


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_an_object_is_a_plain_file_and_its_etag_its_md5(store: FileObjectStore) -> None:
    _put(store, "data/train.csv", b"1,2,3\n")
    assert (store.root / "bkt" / "data" / "train.csv").read_bytes() == b"1,2,3\n"
    info = store.head_object("bkt", "data/train.csv")
    assert (info.size, info.etag) == (6, hashlib.md5(b"1,2,3\n").hexdigest())
    assert info.attributes.content_type == "text/plain"
    assert not list(store.tmp.iterdir())  # the temp file was renamed, not copied


def test_a_file_changed_by_hand_gets_its_etag_from_its_bytes(store: FileObjectStore) -> None:
    _put(store, "k", b"old")
    path = store.root / "bkt" / "k"
    path.write_bytes(b"new bytes")
    os.utime(path, ns=(1, 1))
    assert store.head_object("bkt", "k").etag == hashlib.md5(b"new bytes").hexdigest()
    (store.root / "bkt" / "dropped.json").write_bytes(b"{}")
    info = store.head_object("bkt", "dropped.json")
    assert info.attributes.content_type == "application/json"


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", "a//b", "x\x00y"])
def test_keys_that_would_escape_are_refused_and_nothing_is_written(
    store: FileObjectStore, key: str
) -> None:
    before = _files(store.root.parent)
    with pytest.raises(InvalidObjectName):
        store.begin_write("bkt", key)
    with pytest.raises(InvalidObjectName):
        store.head_object("bkt", key)
    assert _files(store.root.parent) == before


def test_an_object_and_a_folder_of_one_name_conflict(store: FileObjectStore) -> None:
    _put(store, "a", b"1")
    with pytest.raises(KeyConflict):
        _put(store, "a/b", b"2")
    _put(store, "c/d", b"3")
    with pytest.raises(KeyConflict):
        _put(store, "c", b"4")
    with pytest.raises(NoSuchKey):
        store.head_object("bkt", "c")  # a folder is no object
    assert store.head_object("bkt", "a").size == 1


def test_folder_markers_list_and_delete(store: FileObjectStore) -> None:
    _put(store, "dir/", b"")
    _put(store, "dir/file", b"x")
    page = store.list_objects("bkt")
    assert [i.key for i in page.contents] == ["dir/", "dir/file"]
    store.delete_object("bkt", "dir/file")
    assert [i.key for i in store.list_objects("bkt").contents] == ["dir/"]
    store.delete_object("bkt", "dir/")
    assert store.list_objects("bkt").contents == []
    assert list((store.root / "bkt").iterdir()) == []  # empty folders pruned


def test_listing_is_in_utf8_binary_order_across_folders(store: FileObjectStore) -> None:
    for key in ["a/b", "a-c", "a0", "é", "Z"]:
        _put(store, key, b"")
    assert [i.key for i in store.list_objects("bkt").contents] == ["Z", "a-c", "a/b", "a0", "é"]
    page = store.list_objects("bkt", prefix="a/")
    assert [i.key for i in page.contents] == ["a/b"]


def test_bucket_rules(store: FileObjectStore) -> None:
    with pytest.raises(BucketAlreadyOwnedByYou):
        store.create_bucket("bkt")
    with pytest.raises(NoSuchBucket):
        store.head_object("missing", "k")
    _put(store, "k", b"1")
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket("bkt")
    store.delete_object("bkt", "k")
    store.delete_bucket("bkt")
    assert store.list_buckets() == []


def test_multipart_joins_parts_with_s3s_etag(store: FileObjectStore) -> None:
    uploads = MultipartUploads(store)
    upload = uploads.create("bkt", "big", ObjectAttributes(content_type="text/csv"))
    blobs = {1: b"a" * 5 * MiB, 2: b"b" * 5 * MiB, 3: b"tail"}
    etags = {}
    for number in (3, 1, 2):  # parts arrive in any order
        writer = uploads.begin_part("bkt", "big", upload, number)
        writer.write(blobs[number])
        etags[number] = uploads.commit_part("bkt", "big", upload, number, writer, {}).etag
    with pytest.raises(InvalidPartOrder):
        uploads.complete("bkt", "big", upload, [(2, etags[2]), (1, etags[1])])
    with pytest.raises(InvalidPart):
        uploads.complete("bkt", "big", upload, [(1, etags[2])])
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket("bkt")  # an upload in progress
    info = uploads.complete("bkt", "big", upload, [(n, f'"{etags[n]}"') for n in (1, 2, 3)])
    joined = hashlib.md5(b"".join(hashlib.md5(blobs[n]).digest() for n in (1, 2, 3)))
    assert info.etag == f"{joined.hexdigest()}-3"
    assert (store.root / "bkt" / "big").read_bytes() == blobs[1] + blobs[2] + blobs[3]
    assert store.head_object("bkt", "big").attributes.content_type == "text/csv"
    with pytest.raises(NoSuchUpload):
        uploads.abort("bkt", "big", upload)  # completed: gone


def test_multipart_refuses_small_middle_parts(store: FileObjectStore) -> None:
    uploads = MultipartUploads(store)
    upload = uploads.create("bkt", "k", ObjectAttributes())
    etags = []
    for number in (1, 2):
        writer = uploads.begin_part("bkt", "k", upload, number)
        writer.write(b"small")
        etags.append(uploads.commit_part("bkt", "k", upload, number, writer, {}).etag)
    with pytest.raises(EntityTooSmall):
        uploads.complete("bkt", "k", upload, [(1, etags[0]), (2, etags[1])])
    uploads.abort("bkt", "k", upload)
    assert not uploads.in_progress("bkt")


def test_concurrent_puts_and_deletes_in_one_folder_lose_nothing(store: FileObjectStore) -> None:
    """Deletes prune empty folders while other writes create files in them."""
    from concurrent.futures import ThreadPoolExecutor

    def churn(i: int) -> None:
        for round_ in range(30):
            _put(store, f"shared/dir/k{i}", f"{i}-{round_}".encode())
            store.delete_object("bkt", f"shared/dir/k{i}")
        _put(store, f"shared/dir/k{i}", f"{i}-final".encode())

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(churn, range(4)))
    assert sorted(i.key for i in store.list_objects("bkt").contents) == [
        f"shared/dir/k{i}" for i in range(4)]
    for i in range(4):
        path = store.root / "bkt" / "shared" / "dir" / f"k{i}"
        assert path.read_bytes() == f"{i}-final".encode()
