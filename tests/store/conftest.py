"""Fixtures the store contract suites share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import POSTGRES, scratch_database
from tests.tools import require_tool


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A database of the module's own on the test PostgreSQL, dropped after it."""
    require_tool(POSTGRES)
    with scratch_database() as dsn:
        yield dsn
