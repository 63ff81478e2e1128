"""The serving catalogue's persistence seam: named SageMaker resources as JSON documents.

Defined here, by the package that consumes it; implemented on SQLite in
``tandem.store.sqlite.catalog`` (PostgreSQL later, same contract tests).
Names are unique case-insensitively, as SageMaker's are, and keep their case.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["CatalogStore", "AlreadyExists"]


class AlreadyExists(Exception):
    """``put(create=True)`` found a document of that kind and name."""


class CatalogStore(Protocol):
    def put(self, kind: str, name: str, document: dict[str, Any], *, create: bool = False) -> None:
        """Insert or replace; with ``create`` raise AlreadyExists if the name is taken."""
        ...

    def get(self, kind: str, name: str) -> dict[str, Any] | None: ...

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every document of a kind, in creation order."""
        ...

    def delete(self, kind: str, name: str) -> bool: ...
