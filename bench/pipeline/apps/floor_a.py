"""Floor A: one process doing all three stages behind one aiohttp server (no hops)."""

import json
import sys

from aiohttp import web


def add_one(data: dict) -> dict:
    data["instances"] = [[x + 1 for x in row] for row in data["instances"]]
    return data


async def invocations(request: web.Request) -> web.Response:
    body = await request.read()
    for _ in range(3):  # each stage parses, adds and serialises, as the separate stages do
        body = json.dumps(add_one(json.loads(body))).encode()
    return web.Response(body=body, content_type="application/json")


async def ping(request: web.Request) -> web.Response:
    return web.Response()


def main() -> None:
    app = web.Application()
    app.router.add_post("/invocations", invocations)
    app.router.add_get("/ping", ping)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
