"""scripts/setup on the machines the README promises: a Python without ensurepip, a broken .venv.

Debian and Ubuntu ship venv's pip bootstrap (the ``ensurepip`` package of the standard
library) separately, in ``python3.X-venv``. The interpreter built here is exactly that: a
real CPython (Debian's own where it is installed) whose standard library lacks ``ensurepip``,
the files that package would add. The script runs from a copy of the repository's scripts in
a temporary directory, so the checkout's own .venv is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _source_interpreter() -> tuple[Path, Path]:
    """(executable, stdlib dir) of a CPython everyone may run: Debian's where installed."""
    debian = Path("/usr/bin/python3.11")
    if debian.exists() and Path("/usr/lib/python3.11/os.py").exists():
        return debian, Path("/usr/lib/python3.11")
    return Path(sys._base_executable), Path(sysconfig.get_paths()["stdlib"])  # type: ignore[attr-defined]


def _everyone_may_enter(path: Path) -> bool:
    return all(parent.stat().st_mode & 0o001 for parent in [path, *path.parents])


def _link(source: Path, target: Path) -> None:
    target.symlink_to(source)


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
    else:
        shutil.copy2(source, target)


def _python_without_ensurepip(base: Path) -> Path:
    """A copy of a CPython whose standard library is the original's minus ensurepip."""
    executable, stdlib = _source_interpreter()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if executable == Path("/usr/bin/python3.11"):
        version = "3.11"
    lib = base / "lib" / f"python{version}"
    lib.mkdir(parents=True)
    # Links where everyone may follow them, copies where the original is private (a Python
    # under /root), since the script runs as nobody.
    share = _link if _everyone_may_enter(stdlib) else _copy
    for entry in stdlib.iterdir():
        if entry.name not in ("ensurepip", "site-packages", "test", "__pycache__"):
            share(entry, lib / entry.name)
    for shared in executable.parent.parent.joinpath("lib").glob("libpython*"):
        share(shared, base / "lib" / shared.name)  # a binary linked to libpython finds it
    (base / "bin").mkdir()
    python = base / "bin" / f"python{version}"
    shutil.copy2(executable, python)
    return python


def _repo_copy(base: Path) -> Path:
    repo = base / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "setup", repo / "scripts" / "setup")
    return repo


def _as_unprivileged(argv: list[str]) -> list[str]:
    if os.getuid() != 0:
        return argv
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


@pytest.fixture
def open_dir():
    """A directory in /tmp that an unprivileged user may enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="tandem-setup-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_setup_names_the_missing_venv_package_and_stops(open_dir):
    base = open_dir
    python = _python_without_ensurepip(base / "python")
    probe = subprocess.run([str(python), "-c", "import ensurepip"], capture_output=True, text=True)
    assert "No module named 'ensurepip'" in probe.stderr  # the interpreter really lacks it
    assert subprocess.run([str(python), "-c", "import venv, json"]).returncode == 0
    repo = _repo_copy(base)
    if os.getuid() == 0:  # as root, the script runs as nobody: a user who cannot install
        for path in [repo, *repo.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(python), "HOME": str(base)}
    done = subprocess.run(_as_unprivileged([str(repo / "scripts" / "setup")]), cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    version = python.name.removeprefix("python")
    assert f"{python} has no ensurepip" in done.stderr
    if shutil.which("apt-get"):
        assert f"comes in the package python{version}-venv" in done.stderr
        assert f"    sudo apt-get install python{version}-venv\n" in done.stderr
    assert not (repo / ".venv").exists()  # nothing half-made for the next run to trip on


_BACKEND = '''
"""A PEP 517 backend in the project itself, so installing it needs no package index."""
import base64, hashlib, zipfile

def _wheel(directory, *_args, **_kwargs):
    name = "tiny-0.1-py3-none-any.whl"
    files = {"tiny.py": b"ANSWER = 42\\n",
             "tiny-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: tiny\\nVersion: 0.1\\n",
             "tiny-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tiny\\n"
                                          b"Root-Is-Purelib: true\\nTag: py3-none-any\\n"}
    record = []
    with zipfile.ZipFile(f"{directory}/{name}", "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append("tiny-0.1.dist-info/RECORD,,")
        whl.writestr("tiny-0.1.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name

build_wheel = build_editable = _wheel
'''


def _tiny_project(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = []
        build-backend = "tiny_backend"
        backend-path = ["."]

        [project]
        name = "tiny"
        version = "0.1"

        [project.optional-dependencies]
        test = []
        """))
    (repo / "tiny_backend.py").write_text(_BACKEND)


@pytest.mark.parametrize("broken", ["no pip", "python gone"])
def test_a_broken_venv_is_rebuilt(tmp_path, broken):
    repo = _repo_copy(tmp_path)
    _tiny_project(repo)
    python = Path(sys._base_executable)  # type: ignore[attr-defined]
    if broken == "no pip":  # what `python3 -m venv` leaves where ensurepip is missing
        subprocess.run([str(python), "-m", "venv", "--without-pip", str(repo / ".venv")],
                       check=True)
    else:  # the interpreter the venv was made from is gone
        (repo / ".venv" / "bin").mkdir(parents=True)
        (repo / ".venv" / "bin" / "python").symlink_to(tmp_path / "removed-python")
    env = {"PATH": os.environ["PATH"], "PYTHON": str(python), "HOME": str(tmp_path),
           "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([str(repo / "scripts" / "setup"), "test"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilding .venv: it has no working python or pip" in done.stderr
    venv_python = repo / ".venv" / "bin" / "python"
    check = subprocess.run([str(venv_python), "-c", "import tiny, pip; print(tiny.ANSWER)"],
                           capture_output=True, text=True)
    assert check.stdout == "42\n", check.stderr
    assert (repo / ".venv" / ".tandem-installed-test").is_file()

    again = subprocess.run([str(repo / "scripts" / "setup"), "test"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=300)
    assert (again.returncode, again.stderr) == (0, "")  # a sound .venv is left as it is
