"""The serving catalogue's persistence seam: named SageMaker resources as JSON documents.

Defined here, by the package that consumes it; implemented on SQLite in
``tandem.store.sqlite.catalog`` and on PostgreSQL in ``tandem.store.postgres.catalog``, both
held to tests/store/test_catalog_contract.py. Names are unique case-insensitively, as
SageMaker's are, and keep their case. Each document has a version, 1 when created and one more
at each write; a write that names the version it read (``expected_version``) lands only if the
document is still at that version, so two servers sharing a store cannot both win a race.

The leader's own writes (instance records, endpoint status) carry its epoch (``fence``, or a
``FencedCatalog``): a server that lost the lead without noticing yet cannot overwrite what its
successor wrote (``tandem.leadership``).

``CatalogFeed`` tells a server of every write to the catalogue, made through it or through
another server sharing the store (in-process on SQLite; LISTEN/NOTIFY on PostgreSQL in
``tandem.store.postgres.catalog_feed``): servers that route from a snapshot of the catalogue
refresh it from these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "AlreadyExists",
    "CatalogChange",
    "CatalogChanged",
    "CatalogFeed",
    "CatalogStore",
    "FencedCatalog",
    "VersionConflict",
]


class AlreadyExists(Exception):
    """``put(create=True)`` found a document of that kind and name."""


class VersionConflict(Exception):
    """``put(expected_version=N)`` found the document at another version, or gone."""

    def __init__(self, kind: str, name: str, expected: int, found: int | None) -> None:
        where = "it is gone" if found is None else f"it is at version {found}"
        super().__init__(f"{kind} {name}: expected version {expected}, but {where}")
        self.kind = kind
        self.name = name
        self.expected = expected
        self.found = found


class CatalogStore(Protocol):
    def put(
        self, kind: str, name: str, document: dict[str, Any], *, create: bool = False,
        expected_version: int | None = None, fence: int | None = None,
    ) -> int:  # fmt: skip
        """Insert or replace, returning the document's new version. With ``create`` raise
        AlreadyExists if the name is taken; with ``expected_version`` raise VersionConflict
        unless the document exists at exactly that version. With ``fence`` (a leader's
        epoch) raise StaleLeader, writing nothing, unless that epoch is still the current
        leader's; a store only one server uses (SQLite, whose server always leads) does not
        check it."""
        ...

    def get(self, kind: str, name: str) -> dict[str, Any] | None: ...

    def get_versioned(self, kind: str, name: str) -> tuple[dict[str, Any], int] | None:
        """The document and its version."""
        ...

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every document of a kind, in creation order."""
        ...

    def delete(self, kind: str, name: str, *, fence: int | None = None) -> bool:
        """Whether it existed; ``fence`` as for ``put``."""
        ...


class FencedCatalog:
    """A catalogue whose writes carry the epoch this server leads under (``epoch()``, 0 once
    it no longer leads): what the leader-only writers (the reconciler, the endpoint status
    writer) are given. Reads go straight through."""

    def __init__(self, catalog: CatalogStore, epoch: Callable[[], int]) -> None:
        self.catalog = catalog
        self.epoch = epoch

    def put(
        self, kind: str, name: str, document: dict[str, Any], *, create: bool = False,
        expected_version: int | None = None, fence: int | None = None,
    ) -> int:  # fmt: skip
        return self.catalog.put(kind, name, document, create=create,
                                expected_version=expected_version, fence=self.epoch())

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.catalog.get(kind, name)

    def get_versioned(self, kind: str, name: str) -> tuple[dict[str, Any], int] | None:
        return self.catalog.get_versioned(kind, name)

    def list(self, kind: str) -> list[dict[str, Any]]:
        return self.catalog.list(kind)

    def delete(self, kind: str, name: str, *, fence: int | None = None) -> bool:
        return self.catalog.delete(kind, name, fence=self.epoch())


@dataclasses.dataclass(frozen=True)
class CatalogChange:
    """The document of ``kind`` named ``name`` was written or deleted."""

    kind: str
    name: str


# Called on the event loop the feed was started on, with each change, or with None when changes
# may have been missed (the feed's connection was lost and is back): reread everything.
CatalogChanged = Callable[[CatalogChange | None], None]


class CatalogFeed(Protocol):
    async def start(self, on_change: CatalogChanged) -> None:
        """Begin telling ``on_change`` of changes; returns at once, even while the store does
        not answer (the feed keeps trying, and says None once it hears again)."""
        ...

    async def stop(self) -> None: ...
