"""The dashboard signs its calls when the server wants SigV4 (tandem serve --auth-file)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.dashboard.conftest import CHROMIUM, PLAYWRIGHT
from tests.e2e.support import deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

KEY_ID, SECRET = "AKIDDASHBOARD", "dashboard/secret+key=="

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and PLAYWRIGHT.exists()),
        reason="chromium and frontend/node_modules (scripts/setup) are needed",
    ),
]


def test_sign_in_with_a_key_then_every_page_call_is_signed(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\naccess_key_id = "{KEY_ID}"\nsecret_access_key = "{SECRET}"\n')
    server = ServerProcess(tmp_path / "data", extra=(*FAST_FLAGS, "--auth-file", str(keys)))
    server.start()
    try:
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}),
        )
        deploy(sagemaker, "signed", [stage_container("only")])
        proc = subprocess.run(
            ["node", str(Path(__file__).with_name("auth.cjs")), server.url, KEY_ID, SECRET],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    assert seen["errors"] == []
    assert seen["first"] == "MissingAuthenticationTokenException: Missing Authentication Token"
    assert seen["wrong"].startswith(
        "InvalidSignatureException: The request signature we calculated"
    )
    assert seen["endpoints"] == ["signed"]
    assert seen["formHidden"] is True
    assert seen["stored"] == KEY_ID
    assert seen["groups"] == ["/aws/sagemaker/Endpoints/signed"]
    assert seen["afterSignOut"] is None
