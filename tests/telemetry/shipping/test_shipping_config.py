"""ShipperConfig crosses a process boundary (a Ray actor's constructor) by pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tandem.telemetry.shipping import ShipperConfig


def test_config_pickles_to_an_equal_config(tmp_path: Path) -> None:
    config = ShipperConfig(
        "http://10.231.0.1:8080/", tmp_path / "spool", region="eu-west-1",
        access_key_id="AKID", secret_access_key="secret", spool_max_bytes=1 << 20,
    )
    again = pickle.loads(pickle.dumps(config))
    assert again == config
    assert (again.server_url, again.spool_dir) == ("http://10.231.0.1:8080", tmp_path / "spool")


def test_config_refuses_a_spool_bound_of_zero(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spool_max_bytes"):
        ShipperConfig("http://127.0.0.1:1", tmp_path, spool_max_bytes=0)
