"""Model data locations and safe tarball extraction."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

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


def test_extracts_a_normal_model_with_internal_links(tmp_path):
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
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, entry, problem):
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


def test_a_link_escaping_through_another_link_is_caught_while_extracting(tmp_path):
    # Lexically each link stays inside; followed on disk, the second points out. tarfile's
    # data filter (the second guard) resolves real paths and refuses it.
    archive = make_tarball(tmp_path / "model.tar.gz", [
        ("dir", "a/b", ""), ("sym", "a/b/c", "../.."), ("sym", "a/b/c/l", "../../../outside"),
    ])
    with pytest.raises(ArtifactError) as caught:
        extract_tarball(archive, tmp_path / "out", url="m", field=FIELD)
    assert caught.value.member is not None
