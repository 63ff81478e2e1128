"""What a SageMaker SDK script run as a client of a test server gets: nothing but the one
endpoint URL, dummy credentials and a home of its own (no user's AWS config leaks in)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.server_process import ServerProcess

__all__ = ["sdk_client_env"]


def sdk_client_env(server: ServerProcess, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
            "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}  # fmt: skip
