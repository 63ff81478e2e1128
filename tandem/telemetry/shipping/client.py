"""The HTTP edge: one aiohttp session posting signed awsJson requests to a tandem server.

Requests are signed with botocore's SigV4 signer (the optional extra ``tandem[shipping]``),
so a server started with ``--auth`` takes them like any boto3 call. Outcomes are typed:
``Unreachable`` (no answer, a 5xx, throttling, an auth failure: worth retrying) or
``Refused`` (any other 4xx: the request itself is wrong, retrying cannot help).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import orjson

from .config import ShipperConfig
from .requests import ShipRequest

__all__ = ["ShipClient", "DeliveryError", "Unreachable", "Refused"]

# Worth retrying even though the server answered: it is busy, or its keys are being changed
# (an agent's key wrong for good stays in the spool, bounded, rather than losing lines).
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException", "Throttling", "ServiceUnavailableException",
        "ServiceUnavailable", "RequestLimitExceeded", "UnrecognizedClientException",
        "InvalidSignatureException", "IncompleteSignatureException",
        "MissingAuthenticationTokenException", "ExpiredTokenException",
    }
)


class DeliveryError(Exception):
    """A request did not take effect (as far as the shipper can tell)."""


class Unreachable(DeliveryError):
    """No usable answer: try again later."""


class Refused(DeliveryError):
    """The server answered with an error that a retry would repeat."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _signer(config: ShipperConfig) -> Any:
    try:
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError(
            "shipping telemetry needs botocore's signer: pip install 'tandem[shipping]'"
        ) from exc
    credentials = Credentials(
        config.access_key_id, config.secret_access_key, config.session_token
    )
    return {
        service: SigV4Auth(credentials, service, config.region)
        for service in ("logs", "monitoring")
    }


class ShipClient:
    """Posts ``ShipRequest``s to ``config.server_url``; one connection pool, owned."""

    def __init__(self, config: ShipperConfig) -> None:
        self.config = config
        self._signers = _signer(config)
        self._session: aiohttp.ClientSession | None = None

    def ship_to(self, server_url: str) -> None:
        """Post to ``server_url`` from the next request on (the signing keys stay)."""
        self.config = dataclasses.replace(self.config, server_url=server_url.rstrip("/"))

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
                connector=aiohttp.TCPConnector(limit=4),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self, request: ShipRequest) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        raw = AWSRequest(
            method="POST",
            url=self.config.server_url + "/",
            data=request.body,
            headers={"X-Amz-Target": request.target, "Content-Type": request.content_type},
        )
        self._signers[request.service].add_auth(raw)
        return {k: str(v) for k, v in raw.headers.items()}

    async def call(self, request: ShipRequest) -> dict[str, Any]:
        """The decoded answer; raises ``Unreachable`` or ``Refused``."""
        await self.open()
        assert self._session is not None
        headers = self._headers(request)
        try:
            async with self._session.post(
                self.config.server_url + "/", data=request.body, headers=headers
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status < 300:
            return answer
        code = str(answer.get("__type", "")).rpartition("#")[2] or f"HTTP{status}"
        message = str(answer.get("message", answer.get("Message", body[:200])))
        if status >= 500 or status == 429 or code in _RETRYABLE_CODES:
            raise Unreachable(f"{status} {code}: {message}")
        raise Refused(status, code, message)
