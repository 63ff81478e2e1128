"""AWS STS (query protocol, ``POST /`` form bodies signed for ``sts``): GetCallerIdentity,
which SDKs ask before naming things after the account (the SageMaker SDK's default bucket is
``sagemaker-<region>-<account>``). It answers with the configured ``account_id``."""

from __future__ import annotations

import re
import uuid
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = ["StsService"]

_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")


class StsService:
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        value = form.get("Action") or request.query.get("Action")
        action = value if isinstance(value, str) else None
        request_id = str(uuid.uuid4())
        if action != "GetCallerIdentity":
            return self._error(
                request_id,
                "InvalidAction",
                f"Could not find operation {action} for version 2011-06-15"
                if action
                else "Missing Action",
            )
        match = _KEY_ID.search(request.headers.get("Authorization", ""))
        user_id = match.group(1) if match else self.account_id
        body = (
            f'<GetCallerIdentityResponse xmlns="{_NS}"><GetCallerIdentityResult>'
            f"<Arn>arn:aws:iam::{self.account_id}:root</Arn>"
            f"<UserId>{escape(user_id)}</UserId>"
            f"<Account>{self.account_id}</Account>"
            f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId>"
            "</ResponseMetadata></GetCallerIdentityResponse>"
        )
        return web.Response(
            body=body.encode(),
            headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
        )

    def _error(self, request_id: str, code: str, message: str) -> web.Response:
        body = (
            f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return web.Response(
            status=400,
            body=body.encode(),
            headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
        )
