"""The outside tools some tests need: the AWS CLI, moto's server mode, Prometheus, chromium,
haproxy.

A test states its need with ``requires(TOOL)`` (a mark, for a module or a test) or calls
``require_tool(TOOL)`` (in a fixture or a test; it returns the tool's path). Where the tool is
missing, the test is skipped with the tool's name and how to install it, except in CI
(``CI`` set and not false), where it fails: a green CI run must not hide a missing install
step. tests/conftest.py applies the marks, and in CI also fails any other skip, whatever its
reason says.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "Tool", "executable", "module", "in_ci", "require_tool", "requires",
    "AWS_CLI", "MOTO_SERVER", "PROMETHEUS", "CHROMIUM", "DEBIAN_PYTHON", "SDK3_PYTHON",
    "HAPROXY",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Tool:
    """What a test needs: its name, how to install it, and how to find it (a path or None)."""

    name: str
    install: str
    find: Callable[[], str | None]

    def __str__(self) -> str:
        return self.name


def executable(name: str, install: str, *, path: str | None = None) -> Tool:
    """A program on PATH (or at ``path``, or beside this Python, as pip installs scripts)."""

    def find() -> str | None:
        if path is not None:
            return path if os.access(path, os.X_OK) else None
        beside = Path(sys.executable).with_name(name)
        if os.access(beside, os.X_OK):
            return str(beside)
        return shutil.which(name)

    return Tool(name, install, find)


def module(name: str, install: str, *, what: str | None = None) -> Tool:
    """An importable Python module (the path of its file)."""

    def find() -> str | None:
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:  # a parent package is missing
            return None
        return None if spec is None else (spec.origin or name)

    return Tool(what or name, install, find)


AWS_CLI = executable("aws", "the test extra installs awscli: pip install -e '.[test]'")
MOTO_SERVER = module("moto.server", "the test extra installs it: pip install -e '.[test]'",
                     what="moto's server mode (moto[server])")
PROMETHEUS = executable("prometheus", "scripts/setup installs Debian's prometheus package")
CHROMIUM = executable("chromium", "scripts/setup installs Debian's chromium package",
                      path="/usr/bin/chromium")
DEBIAN_PYTHON = executable("Debian's python3.11", "scripts/setup-test-tools installs it",
                           path="/usr/bin/python3.11")



def _haproxy() -> str | None:
    # Debian puts it in /usr/sbin, which a user's PATH may lack.
    found = shutil.which("haproxy")
    if found is None and os.access("/usr/sbin/haproxy", os.X_OK):
        found = "/usr/sbin/haproxy"
    return found


HAPROXY = Tool("haproxy", "scripts/setup-test-tools installs Debian's haproxy package", _haproxy)

_SDK3_VENV = Path(__file__).resolve().parent.parent / ".venv-sdk3"


def _sdk3_python() -> str | None:
    # The stamp is written only once every package installed (scripts/setup-sdk3).
    python = _SDK3_VENV / "bin" / "python"
    if (_SDK3_VENV / ".tandem-installed-sdk3").is_file() and os.access(python, os.X_OK):
        return str(python)
    return None


SDK3_PYTHON = Tool("the SageMaker Python SDK 3.x in .venv-sdk3",
                   "scripts/setup-sdk3 creates it; scripts/test runs that", _sdk3_python)


def require_tool(tool: Tool) -> str:
    """The tool's path. Where it is missing: skip the calling test, or fail it in CI."""
    found = tool.find()
    if found is not None:
        return found
    message = f"{tool.name} is not installed ({tool.install})"
    if in_ci():
        pytest.fail(f"{message}; CI must install every tool the tests need", pytrace=False)
    pytest.skip(message)


def requires(*tools: Tool) -> pytest.MarkDecorator:
    """A mark: the test (or, as ``pytestmark``, every test of the module) needs ``tools``."""
    return pytest.mark.requires_tool(*tools)
