"""ShipperConfig: where and how an agent on another host ships its telemetry home."""

from __future__ import annotations

import dataclasses
from pathlib import Path

__all__ = ["ShipperConfig"]


@dataclasses.dataclass(frozen=True)
class ShipperConfig:
    """Everything a remote agent needs to reach a tandem server: plain values only, so the
    launcher can pickle it into a Ray actor's constructor.

    ``spool_dir`` holds requests the server could not take yet (one file each); at most
    ``spool_max_bytes`` of them, the oldest dropped (and counted) beyond that."""

    server_url: str
    spool_dir: Path
    region: str = "us-east-1"
    access_key_id: str = "tandem"
    secret_access_key: str = "tandem"
    session_token: str | None = None
    spool_max_bytes: int = 256 * 1024 * 1024
    # How long lines wait to fill a batch; the CloudWatch agent's force_flush_interval is 5 s,
    # a local instance's lines are in the store within 0.5 s, so the default stays close to that.
    flush_interval: float = 0.2
    metrics_flush_interval: float = 5.0
    # Lines held in memory before a writer waits (the server is slow) or they go to the spool
    # (the server is unreachable).
    max_buffered_events: int = 50_000
    request_timeout: float = 10.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "spool_dir", Path(self.spool_dir))
        object.__setattr__(self, "server_url", self.server_url.rstrip("/"))
        if self.spool_max_bytes <= 0:
            raise ValueError("spool_max_bytes must be positive")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("backoff_initial must be positive and at most backoff_max")
