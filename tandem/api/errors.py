"""Error rendering shared by the JSON-bodied AWS protocols.

Each protocol module maps core errors to its own wire shape in one function;
these helpers only walk an error class's MRO for a per-protocol override table.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import TandemError

__all__ = ["lookup"]


def lookup(error: TandemError, table: Mapping[type, tuple[str, int]]) -> tuple[str, int]:
    """(code, status) for ``error``: the nearest class in ``table`` by MRO, else the class's own."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return error.code, error.status
