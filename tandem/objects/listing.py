"""One page of a bucket listing, from its keys in S3's order (pure: tested against a naive
recomputation)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["select_page", "s3_order"]


def s3_order(key: str) -> bytes:
    """S3 lists keys in UTF-8 binary order."""
    return key.encode("utf-8")


def select_page(
    keys: Iterable[str],
    *,
    prefix: str = "",
    delimiter: str = "",
    after: str | None = None,
    max_keys: int = 1000,
) -> tuple[list[str], list[str], bool]:
    """``(keys, common_prefixes, truncated)`` for one page.

    ``keys`` must be in ``s3_order``. Only keys strictly after ``after`` count; with a
    delimiter, each distinct ``prefix + ... + delimiter`` is one common prefix, counted once
    toward ``max_keys``, and one already returned (at or before ``after``) is not repeated.
    """
    contents: list[str] = []
    prefixes: list[str] = []
    if max_keys <= 0:
        return contents, prefixes, False
    bound = s3_order(after) if after is not None else None
    count = 0
    for key in keys:
        if not key.startswith(prefix):
            continue
        if bound is not None and s3_order(key) <= bound:
            continue
        if delimiter:
            at = key.find(delimiter, len(prefix))
            if at >= 0:
                common = key[: at + len(delimiter)]
                if (prefixes and prefixes[-1] == common) or (
                    bound is not None and s3_order(common) <= bound
                ):
                    continue
                if count == max_keys:
                    return contents, prefixes, True
                prefixes.append(common)
                count += 1
                continue
        if count == max_keys:
            return contents, prefixes, True
        contents.append(key)
        count += 1
    return contents, prefixes, False
