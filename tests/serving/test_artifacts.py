"""Model data locations and safe tarball extraction."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.errors import ConfigError
from tandem.serving.artifacts import ArtifactError, extract_tarball, materialize, resolve_location

FIELD = "Containers[1].ModelDataUrl"


def make_tarball(path: Path, entries: list[tuple[str, str, str | bytes]]) -> Path:
    """entries: (kind, name, data-or-linkname) with kind in file, dir, sym, hard, chr, fifo."""
    with tarfile.open(path, "w:gz") as tar:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            payload = None
            if kind == "file":
                raw = data.encode() if isinstance(data, str) else data
                info.size, payload = len(raw), io.BytesIO(raw)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, payload)
    return path


def test_relative_path_resolves_against_base_dir(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    assert resolve_location("models/m", tmp_path, field=FIELD) == tmp_path / "models" / "m"


def test_file_url_with_escapes(tmp_path):
    (tmp_path / "my model").mkdir()
    url = "file://" + str(tmp_path / "my%20model")
    assert resolve_location(url, Path("/elsewhere"), field=FIELD) == tmp_path / "my model"


@pytest.mark.parametrize("url", ["s3://bucket/model.tar.gz", "https://example.com/m.tar.gz"])
def test_remote_urls_are_refused_by_name(url, tmp_path):
    with pytest.raises(ArtifactError) as caught:
        resolve_location(url, tmp_path, field=FIELD)
    assert str(caught.value) == (f"{FIELD}: tandem runs locally: ModelDataUrl must be a local "
                                 f"path or file:// URL, got {url}")
    assert isinstance(caught.value, ConfigError) and caught.value.url == url


def test_missing_and_non_archive_paths(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        resolve_location("nope.tar.gz", tmp_path, field=FIELD)
    (tmp_path / "model.zip").write_bytes(b"PK")
    with pytest.raises(ArtifactError, match=r"neither a directory nor a \.tar\.gz"):
        resolve_location("model.zip", tmp_path, field=FIELD)


def test_extracts_a_normal_model_with_internal_links(tmp_path, data_filter):
    archive = make_tarball(tmp_path / "model.tar.gz", [
        ("dir", "code", ""), ("file", "code/inference.py", "X = 1\n"),
        ("file", "weights.bin", b"\x00\x01"), ("sym", "code/w", "../weights.bin"),
        ("hard", "copy.bin", "weights.bin"),
    ])
    target = tmp_path / "out"
    extract_tarball(archive, target, url="model.tar.gz", field=FIELD)
    assert (target / "code" / "inference.py").read_text() == "X = 1\n"
    assert (target / "code" / "w").read_bytes() == b"\x00\x01"
    assert (target / "copy.bin").read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("entry, problem", [
    (("file", "../x", "evil"), "path with '..'"),
    (("file", "a/../../x", "evil"), "path with '..'"),
    (("file", "/etc/x", "evil"), "absolute path"),
    (("sym", "etc", "/etc"), "symlink to absolute path '/etc'"),
    (("sym", "up", "../../outside"), "symlink pointing outside the target"),
    (("hard", "passwd", "/etc/passwd"), "hardlink pointing outside the target"),
    (("hard", "h", "../outside"), "hardlink pointing outside the target"),
    (("chr", "null", ""), "device or FIFO"),
    (("fifo", "pipe", ""), "device or FIFO"),
])
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, data_filter, entry,
                                                                problem):
    archive = make_tarball(tmp_path / "model.tar.gz", [("file", "ok.txt", "fine"), entry])
    target = tmp_path / "out"
    with pytest.raises(ArtifactError) as caught:
        extract_tarball(archive, target, url="file:///m/model.tar.gz", field=FIELD)
    error = caught.value
    assert (error.field, error.url, error.member) == (FIELD, "file:///m/model.tar.gz", entry[1])
    assert problem in str(error) and f"(member {entry[1]!r})" in str(error)
    assert not target.exists()
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_corrupt_archive_is_an_artifact_error(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArtifactError, match="cannot unpack"):
        extract_tarball(tmp_path / "model.tar.gz", tmp_path / "out", url="m", field=FIELD)


def test_materialize_uses_directories_in_place_and_unpacks_tarballs_once(tmp_path):
    (tmp_path / "dir").mkdir()
    assert materialize("dir", tmp_path, tmp_path / "t1", field=FIELD) == tmp_path / "dir"
    assert not (tmp_path / "t1").exists()

    make_tarball(tmp_path / "model.tar.gz", [("file", "a.txt", "one")])
    target = tmp_path / "work" / "model"
    assert materialize("model.tar.gz", tmp_path, target, field=FIELD) == target
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    (target / "a.txt").write_text("changed by the model")
    materialize("model.tar.gz", tmp_path, target, field=FIELD)
    assert (target / "a.txt").read_text() == "changed by the model"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model", "model.extracted"]


def test_materialize_redoes_an_unfinished_extraction(tmp_path):
    make_tarball(tmp_path / "model.tar.gz", [("file", "a.txt", "one")])
    target = tmp_path / "work" / "model"
    target.mkdir(parents=True)
    (target / "partial").write_text("left by a crash")
    materialize("model.tar.gz", tmp_path, target, field=FIELD)
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]


@pytest.fixture(params=["with-data-filter", "without-data-filter"])
def data_filter(request, monkeypatch):
    """Each safety test runs with tarfile's data filter and as on Pythons before 3.11.4."""
    if request.param == "without-data-filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter (before 3.11.4)")
    return request.param


@pytest.mark.parametrize("entries, member, problem", [
    # Lexically each link stays inside; followed, the second leads out through the first.
    ([("dir", "b", ""), ("sym", "b/c", ".."), ("sym", "a", "b/c/..")],
     "a", "symlink pointing outside the target ('b/c/..')"),
    ([("sym", "x", "y"), ("sym", "y", "z/../..")], "x", "symlink pointing outside the target"),
    ([("sym", "loop1", "loop2"), ("sym", "loop2", "loop1")], "loop1", "symlink loop"),
    ([("dir", "a/b", ""), ("sym", "a/b/c", "../.."), ("sym", "a/b/c/l", "../../../outside")],
     "a/b/c/l", "path through the symlink 'a/b/c'"),
    ([("sym", "d", "."), ("file", "d/x", "written through a link")],
     "d/x", "path through the symlink 'd'"),
    ([("hard", "h", "later.bin"), ("file", "later.bin", "data")],
     "h", "hardlink to 'later.bin', which is not a file the archive holds before it"),
    ([("sym", "s", "f"), ("hard", "h", "s")], "h", "not a file the archive holds before it"),
    ([("file", "f", "data"), ("sym", "f", "g")], "f", "appears twice, as file and as symlink"),
    ([("sym", "s", "a"), ("sym", "s", "b")], "s", "appears twice, as symlink and as symlink"),
    ([("sym", "s", "")], "s", "symlink with an empty target"),
    ([("file", "./", "data")], "./", "names the target directory itself"),
])
def test_link_tricks_are_refused_before_anything_is_written(tmp_path, data_filter, entries,
                                                            member, problem):
    archive = make_tarball(tmp_path / "model.tar.gz", entries)
    target = tmp_path / "out"
    with pytest.raises(ArtifactError) as caught:
        extract_tarball(archive, target, url="m", field=FIELD)
    assert caught.value.member == member
    assert problem in str(caught.value)
    assert not target.exists()


def test_a_model_packed_with_tar_c_dot_extracts(tmp_path, data_filter):
    # `tar czf model.tar.gz -C model .` names every member "./..." and adds "." itself.
    source = tmp_path / "model"
    (source / "code").mkdir(parents=True)
    (source / "code" / "inference.py").write_text("X = 1\n")
    (source / "latest").symlink_to("code")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(source, arcname=".")
    target = tmp_path / "out"
    extract_tarball(tmp_path / "model.tar.gz", target, url="m", field=FIELD)
    assert (target / "latest" / "inference.py").read_text() == "X = 1\n"
    assert sorted(p.name for p in target.iterdir()) == ["code", "latest"]


def test_modes_are_tamed_and_ownership_is_never_taken_from_the_archive(tmp_path, data_filter):
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for name, mode in [("suid", 0o4777), ("plain", 0o666), ("locked", 0o000)]:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = mode, 12345, 12345, 1_700_000_000
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    target = tmp_path / "out"
    extract_tarball(tmp_path / "model.tar.gz", target, url="m", field=FIELD)
    modes = {p.name: p.stat().st_mode & 0o7777 for p in target.iterdir()}
    assert modes == {"suid": 0o755, "plain": 0o644, "locked": 0o600}
    assert {p.stat().st_uid for p in target.iterdir()} == {os.getuid()}
    assert (target / "plain").stat().st_mtime == 1_700_000_000


def test_a_later_copy_of_a_file_replaces_it(tmp_path, data_filter):
    archive = make_tarball(tmp_path / "model.tar.gz", [
        ("file", "w.bin", "old"), ("hard", "h.bin", "w.bin"), ("file", "w.bin", "new"),
    ])
    extract_tarball(archive, tmp_path / "out", url="m", field=FIELD)
    assert (tmp_path / "out" / "w.bin").read_text() == "new"
    assert (tmp_path / "out" / "h.bin").read_text() == "old"


_NAMES = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map("/".join)
_TARGETS = st.lists(st.sampled_from(["a", "b", "c", ".", ".."]), min_size=1, max_size=4).map(
    "/".join)
_ENTRIES = st.lists(st.tuples(st.sampled_from(["file", "dir", "sym", "hard"]), _NAMES, _TARGETS),
                    max_size=6)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(entries=_ENTRIES)
def test_whatever_is_extracted_stays_inside_the_target(monkeypatch, entries):
    """Any archive of files, directories and links over a few names either is refused or
    leaves nothing that leads outside the target, followed on disk: the member checks alone,
    without tarfile's data filter."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        archive = make_tarball(base / "m.tar.gz", [
            (kind, name, "data" if kind == "file" else link) for kind, name, link in entries])
        target = base / "sandbox" / "out"
        try:
            extract_tarball(archive, target, url="m", field=FIELD)
        except ArtifactError:
            return
        root = os.path.realpath(target)
        for path in target.rglob("*"):
            real = os.path.realpath(path)
            assert real == root or real.startswith(root + "/"), (path, real)
        assert sorted(p.name for p in (base / "sandbox").iterdir()) == ["out"]
