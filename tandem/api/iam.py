"""AWS IAM (query protocol, ``POST /`` forms signed for ``iam``): tandem has no IAM, so every
action is refused with IAM's AccessDenied, the answer a principal without IAM permissions
gets. Clients that check a role before using it treat that as "cannot verify" and go on: the
SageMaker Python SDK 3.x simulates the role's policies (SimulatePrincipalPolicy) and reads its
trust policy (GetRole) before a training job or deployment, and proceeds on AccessDenied."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = ["refuse_iam"]

_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


async def refuse_iam(request: web.Request) -> web.Response:
    form = await request.post()
    value = form.get("Action") or request.query.get("Action")
    action = value if isinstance(value, str) and value else "this action"
    request_id = str(uuid.uuid4())
    message = (f"tandem has no IAM, so it cannot perform iam:{action}; roles (RoleArn) are "
               "accepted as given and never checked here")
    body = (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type>'
        f"<Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return web.Response(status=403, body=body.encode(),
                        headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id})
