"""The multihost suite: a Ray cluster over emulated hosts (network namespaces), shared by the
suite's tests. Where namespaces cannot be made (not root, no iproute2) or Ray is not installed,
the tests skip with that reason; in CI they fail instead (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools import module, require_tool

from .netns import NamespacesUnavailable
from .rig import RayCluster, ray_cluster

RAY = module("ray", "the ray extra installs it: pip install -e '.[ray]'")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.multihost)


@pytest.fixture(scope="session")
def multihost_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """Two emulated hosts, each a Ray node, and the head in the root namespace."""
    require_tool(RAY)
    work = tmp_path_factory.mktemp("multihost")
    try:
        with ray_cluster(2, work) as cluster:
            yield cluster
    except NamespacesUnavailable as exc:
        pytest.skip(f"no emulated hosts here: {exc}")
