"""The same boto3 calls against moto's server mode and against tandem, compared field by field.

Every difference must be one the case declares, with its reason (docs/api-compatibility.md has
the same table), and every declared difference must still occur: the table cannot go stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.logs.server_thread import ServerThread, aws_client
from tests.tools import MOTO_SERVER, requires

from .cases import CASES, Case, Clients, flatten, normalize
from .moto_server import MotoServer

pytestmark = [pytest.mark.slow, requires(MOTO_SERVER)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Clients, Clients]]:
    moto = MotoServer().start()
    # moto's default account, so ARNs compare equal.
    tandem = ServerThread(tmp_path_factory.mktemp("tandem-diff"), account_id="123456789012")
    tandem.start()
    try:
        yield (
            Clients(aws_client("sagemaker", tandem.url), aws_client("logs", tandem.url), False),
            Clients(aws_client("sagemaker", moto.url), aws_client("logs", moto.url), True),
        )
    finally:
        tandem.stop()
        moto.stop()


def _covered(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def differences(ours: Any, theirs: Any) -> dict[str, tuple[Any, Any]]:
    a, b = flatten(normalize(ours)), flatten(normalize(theirs))
    absent = "<absent>"
    return {
        p: (a.get(p, absent), b.get(p, absent))
        for p in sorted(set(a) | set(b))
        if a.get(p, absent) != b.get(p, absent)
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_tandem_matches_moto_but_for_declared_differences(
    servers: tuple[Clients, Clients], case: Case
) -> None:
    tandem, moto = servers
    found = differences(case.run(tandem), case.run(moto))
    undeclared = {
        p: v
        for p, v in found.items()
        if not any(_covered(p, prefix) for prefix in case.differences)
    }
    assert undeclared == {}, "differences nobody declared (tandem, moto)"
    stale = [prefix for prefix in case.differences if not any(_covered(p, prefix) for p in found)]
    assert stale == [], "declared differences that no longer occur"


def test_flatten_and_differences_are_exact() -> None:
    assert flatten({"a": [{"b": 1}, 2], "c": {}}) == {"a[0].b": 1, "a[1]": 2, "c": {}}
    assert differences({"x": 1, "CreationTime": 5}, {"x": 2, "CreationTime": 6}) == {"x": (1, 2)}
    assert differences({"x": [1]}, {"y": 0}) == {"x[0]": (1, "<absent>"), "y": ("<absent>", 0)}
