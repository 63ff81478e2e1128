"""The CatalogStore contract: SQLite and PostgreSQL pass the same tests.

Add an implementation by adding a ``backend`` param that yields it and can reopen the same
storage (a restarted server) and open a second handle on it (another server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.serving.catalog import AlreadyExists, CatalogStore, VersionConflict
from tandem.store.sqlite.catalog import SQLiteCatalogStore
from tandem.store.sqlite.database import Database
from tests.postgres import empty_tables


class _SQLite:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.databases = [Database(path)]
        self.store: CatalogStore = SQLiteCatalogStore(self.databases[0])

    def reopen(self) -> CatalogStore:
        self.databases.pop(0).close()
        self.databases.insert(0, Database(self.path))
        self.store = SQLiteCatalogStore(self.databases[0])
        return self.store

    def second(self) -> CatalogStore:
        # One server owns a SQLite file: a second handle shares its one writer.
        return SQLiteCatalogStore(self.databases[0])

    def close(self) -> None:
        for database in self.databases:
            database.close()


class _Postgres:
    def __init__(self, dsn: str) -> None:
        from tandem.store.postgres import PostgresCatalogStore, PostgresDatabase

        self._open: Callable[[], Any] = lambda: PostgresDatabase(dsn, max_size=4)
        self._store = PostgresCatalogStore
        self.databases = [self._open()]
        self.store: CatalogStore = PostgresCatalogStore(self.databases[0])

    def reopen(self) -> CatalogStore:
        self.databases.pop(0).close()
        self.databases.insert(0, self._open())
        self.store = self._store(self.databases[0])
        return self.store

    def second(self) -> CatalogStore:
        self.databases.append(self._open())
        return self._store(self.databases[-1])

    def close(self) -> None:
        for database in self.databases:
            database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_SQLite | _Postgres]:
    if request.param == "sqlite":
        impl: _SQLite | _Postgres = _SQLite(tmp_path / "catalog.db")
    else:
        dsn = request.getfixturevalue("postgres_database")
        impl = _Postgres(dsn)
        empty_tables(dsn)  # one database per module: each test starts from an empty one
    yield impl
    impl.close()


@pytest.fixture
def store(backend: _SQLite | _Postgres) -> CatalogStore:
    return backend.store


def test_put_get_list_delete(store: CatalogStore) -> None:
    assert store.put("model", "b", {"name": "b", "n": 1}) == 1
    assert store.put("model", "a", {"name": "a", "n": 2}) == 1
    store.put("endpoint", "a", {"name": "a", "kind": "endpoint"})
    assert store.get("model", "a") == {"name": "a", "n": 2}
    assert store.get("model", "missing") is None
    assert [d["name"] for d in store.list("model")] == ["b", "a"]  # creation order
    assert store.list("endpoint") == [{"name": "a", "kind": "endpoint"}]
    assert store.delete("model", "b") is True
    assert store.delete("model", "b") is False
    assert [d["name"] for d in store.list("model")] == ["a"]
    assert store.get("endpoint", "a") == {"name": "a", "kind": "endpoint"}


def test_documents_come_back_exactly(store: CatalogStore) -> None:
    document = {"z": 1, "a": [1.5, None, True, "ü\\u0000"], "m": {"y": {}, "b": []},
                "big": 2**53 + 1, "f": 1e-300}
    store.put("model", "m", document)
    back = store.get("model", "m")
    assert back == document
    assert list(back) == ["z", "a", "m", "big", "f"]  # key order kept, as written


def test_names_are_unique_case_insensitively_and_keep_their_case(store: CatalogStore) -> None:
    store.put("model", "MyModel", {"name": "MyModel"}, create=True)
    with pytest.raises(AlreadyExists):
        store.put("model", "mymodel", {"name": "mymodel"}, create=True)
    assert store.get("model", "MYMODEL") == {"name": "MyModel"}
    store.put("model", "MYMODEL", {"name": "MYMODEL"})  # a replace renames to the new case
    assert store.list("model") == [{"name": "MYMODEL"}]
    assert store.delete("model", "mymodel") is True
    assert store.list("model") == []
    store.put("endpoint", "MyModel", {"name": "MyModel"}, create=True)  # other kinds: free


def test_versions_count_writes_and_compare_and_set(store: CatalogStore) -> None:
    assert store.get_versioned("endpoint", "e") is None
    assert store.put("endpoint", "e", {"s": "Creating"}) == 1
    assert store.put("endpoint", "e", {"s": "InService"}, expected_version=1) == 2
    with pytest.raises(VersionConflict) as stale:
        store.put("endpoint", "e", {"s": "Failed"}, expected_version=1)
    assert (stale.value.expected, stale.value.found) == (1, 2)
    assert store.get_versioned("endpoint", "e") == ({"s": "InService"}, 2)
    assert store.put("endpoint", "E", {"s": "Updating"}) == 3  # a plain put still counts
    store.delete("endpoint", "e")
    with pytest.raises(VersionConflict) as gone:
        store.put("endpoint", "e", {"s": "InService"}, expected_version=3)
    assert gone.value.found is None
    assert store.get("endpoint", "e") is None
    assert store.put("endpoint", "e", {"s": "Creating"}, create=True) == 1  # a new life


def test_create_with_a_version_is_refused_when_it_exists(store: CatalogStore) -> None:
    store.put("model", "m", {"v": 1})
    with pytest.raises(AlreadyExists):
        store.put("model", "m", {"v": 2}, create=True, expected_version=1)
    assert store.get_versioned("model", "m") == ({"v": 1}, 1)


def test_documents_survive_a_reopen(backend: _SQLite | _Postgres) -> None:
    backend.store.put("model", "kept", {"name": "kept"})
    backend.store.put("model", "kept", {"name": "kept", "again": True})
    reopened = backend.reopen()
    assert reopened.get_versioned("model", "kept") == ({"name": "kept", "again": True}, 2)


def test_racing_writers_exactly_one_wins_each_version(backend: _SQLite | _Postgres) -> None:
    """Eight writers (over two handles: two servers on PostgreSQL) each read-modify-write a
    counter with compare-and-set, retrying on conflict: no increment is lost."""
    stores = [backend.store, backend.second()]
    stores[0].put("counter", "c", {"n": 0})
    conflicts = []

    def bump(store: CatalogStore, times: int) -> None:
        for _ in range(times):
            while True:
                found = store.get_versioned("counter", "c")
                assert found is not None
                document, version = found
                try:
                    store.put("counter", "c", {"n": document["n"] + 1}, expected_version=version)
                    break
                except VersionConflict:
                    conflicts.append(1)

    workers = [threading.Thread(target=bump, args=(stores[i % 2], 25)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert stores[1].get_versioned("counter", "c") == ({"n": 200}, 201)


_names = st.text(alphabet="abAB-1", min_size=1, max_size=3)
_ops = st.lists(st.tuples(st.sampled_from(["put", "create", "delete"]), _names,
                          st.integers(0, 9)), max_size=30)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_matches_a_dictionary_model(backend: _SQLite | _Postgres, ops: list[Any]) -> None:
    """Any sequence of puts, creates and deletes leaves what a case-folding dict would."""
    store = backend.store
    for name in {d["name"] for d in store.list("p")}:
        store.delete("p", name)
    model: dict[str, tuple[str, int, int]] = {}  # folded name -> (name, value, version)
    for op, name, value in ops:
        key = name.lower()
        if op == "delete":
            assert store.delete("p", name) is (key in model)
            model.pop(key, None)
        elif op == "create" and key in model:
            with pytest.raises(AlreadyExists):
                store.put("p", name, {"name": name, "v": value}, create=True)
        else:
            version = store.put("p", name, {"name": name, "v": value}, create=op == "create")
            expected = model[key][2] + 1 if key in model else 1
            assert version == expected
            model[key] = (name, value, version)
    assert sorted((d["name"], d["v"]) for d in store.list("p")) == sorted(
        (n, v) for n, v, _ in model.values())
    for key, (name, value, version) in model.items():
        assert store.get_versioned("p", key.upper()) == ({"name": name, "v": value}, version)
