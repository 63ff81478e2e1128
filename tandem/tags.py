"""Tags by ARN, for every service's resources: one store, AWS's limits checked once.

Tags live in the catalogue (kind ``tags``, one document per ARN), so they survive a
restart and are shared by servers sharing a store; every store call runs off the event
loop. The core knows nothing of who owns an ARN: each API checks that the resource
exists, stores tags at create time with ``add`` and removes them with ``drop`` when the
resource goes. The limits are AWS's (Tagging best practices; each service's model):
at most 50 tags per resource, keys 1-128 and values 0-256 characters of letters,
digits, spaces and ``_.:/=+-@``, and keys beginning ``aws:`` reserved.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import regex

from .errors import InvalidParameterValue, LimitExceeded
from .serving.catalog import CatalogStore

__all__ = ["TagStore", "TooManyTags", "ReservedTagKey", "MAX_TAGS", "check_tags"]

MAX_TAGS = 50
_KIND = "tags"
_CHARS = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")


class TooManyTags(LimitExceeded):
    """A resource would hold more than 50 tags."""


class ReservedTagKey(InvalidParameterValue):
    """A tag key in the ``aws:`` namespace, which only AWS may set."""


def check_tags(tags: Mapping[str, str]) -> None:
    """Refuse keys and values outside AWS's lengths and characters, and ``aws:`` keys."""
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or _CHARS.fullmatch(key) is None:
            raise InvalidParameterValue(
                f"Tag key '{key}' must be 1 to 128 characters of letters, digits, spaces "
                "and _.:/=+-@"
            )
        if len(value) > 256 or _CHARS.fullmatch(value) is None:
            raise InvalidParameterValue(
                f"Tag value '{value}' of key '{key}' must be 0 to 256 characters of letters, "
                "digits, spaces and _.:/=+-@"
            )
        if key.lower().startswith("aws:"):
            raise ReservedTagKey(f"Tag keys beginning with 'aws:' are reserved: '{key}'.")


def _name(arn: str) -> str:
    # The catalogue's names compare without case; ARNs (a log group's) may not.
    return f"{arn}#{hashlib.sha256(arn.encode()).hexdigest()[:16]}"


class TagStore:
    """Tags of any ARN, persisted in the catalogue."""

    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog
        self._lock = asyncio.Lock()  # a read-modify-write per ARN at a time

    def _read(self, arn: str) -> dict[str, str]:
        document: dict[str, Any] | None = self._catalog.get(_KIND, _name(arn))
        return dict(document["tags"]) if document else {}

    async def list(self, arn: str) -> dict[str, str]:
        """The resource's tags, in the order they were first set."""
        return await asyncio.to_thread(self._read, arn)

    async def add(self, arn: str, tags: Mapping[str, str]) -> None:
        """Set ``tags`` (a key already set takes the new value); refused whole if any tag is
        malformed or the resource would hold more than 50."""
        check_tags(tags)
        async with self._lock:
            current = await asyncio.to_thread(self._read, arn)
            merged = {**current, **tags}
            if len(merged) > MAX_TAGS:
                raise TooManyTags(
                    f"A resource can have at most {MAX_TAGS} tags; this request would give "
                    f"it {len(merged)}."
                )
            if merged != current:
                document = {"arn": arn, "tags": merged}
                await asyncio.to_thread(self._catalog.put, _KIND, _name(arn), document)

    async def remove(self, arn: str, keys: Iterable[str]) -> None:
        """Remove these keys; a key the resource does not have is ignored, as on AWS."""
        gone = set(keys)
        async with self._lock:
            current = await asyncio.to_thread(self._read, arn)
            kept = {k: v for k, v in current.items() if k not in gone}
            if kept == current:
                return
            if kept:
                document = {"arn": arn, "tags": kept}
                await asyncio.to_thread(self._catalog.put, _KIND, _name(arn), document)
            else:
                await asyncio.to_thread(self._catalog.delete, _KIND, _name(arn))

    async def drop(self, arn: str) -> None:
        """Forget every tag of a resource that is gone."""
        async with self._lock:
            await asyncio.to_thread(self._catalog.delete, _KIND, _name(arn))
