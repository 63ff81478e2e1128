"""One pipeline stage: a minimal aiohttp server. POST /invocations parses the JSON body,
adds 1 to every number in ``instances`` and answers JSON; GET /ping answers 200.

Floor B's stages and tandem's command containers (``serve``) both run this file.
"""

import json
import os
import sys

from aiohttp import web


def add_one(data: dict) -> dict:
    data["instances"] = [[x + 1 for x in row] for row in data["instances"]]
    return data


async def invocations(request: web.Request) -> web.Response:
    data = json.loads(await request.read())
    return web.Response(body=json.dumps(add_one(data)).encode(),
                        content_type="application/json")


async def ping(request: web.Request) -> web.Response:
    return web.Response()


def main() -> None:
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or sys.argv[1])
    app = web.Application()
    app.router.add_post("/invocations", invocations)
    app.router.add_get("/ping", ping)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
