"""The tag store on the real SQLite catalogue: AWS's limits, ARNs that differ only in case,
and tags that survive a reopen (a server restart) and go with ``drop``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.errors import InvalidParameterValue
from tandem.store import open_store
from tandem.tags import TagStore, TooManyTags

GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:"


async def test_tags_survive_a_reopen_and_go_with_drop(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        tags = TagStore(store.catalog)
        await tags.add(GROUP + "/a", {"team": "ml", "env": "test"})
        await tags.add(GROUP + "/A", {"team": "infra"})  # another group: names keep case
        await tags.remove(GROUP + "/a", ["env", "absent"])
    finally:
        store.close()
    store = open_store(tmp_path)
    try:
        tags = TagStore(store.catalog)
        assert await tags.list(GROUP + "/a") == {"team": "ml"}
        assert await tags.list(GROUP + "/A") == {"team": "infra"}
        await tags.drop(GROUP + "/a")
        assert await tags.list(GROUP + "/a") == {}
        assert await tags.list(GROUP + "/A") == {"team": "infra"}
    finally:
        store.close()


async def test_limits(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        tags = TagStore(store.catalog)
        await tags.add(GROUP + "/l", {f"k{i}": "" for i in range(50)})
        with pytest.raises(TooManyTags):
            await tags.add(GROUP + "/l", {"one-more": "v"})
        await tags.add(GROUP + "/l", {"k0": "replaced"})  # still 50
        assert len(await tags.list(GROUP + "/l")) == 50
        for bad in ({"": "v"}, {"k" * 129: "v"}, {"k": "v" * 257}, {"a*": "v"}, {"k": "v|"},
                    {"aws:owner": "v"}, {"AWS:owner": "v"}):  # fmt: skip
            with pytest.raises(InvalidParameterValue):
                await tags.add(GROUP + "/m", bad)
        await tags.add(GROUP + "/m", {"Ünïcode key 1 _.:/=+-@": "välue with spaces"})
        assert await tags.list(GROUP + "/m") == {"Ünïcode key 1 _.:/=+-@": "välue with spaces"}
    finally:
        store.close()
