"""Floor B: a minimal hand-written aiohttp router forwarding each request sequentially to
three stage processes over keep-alive HTTP on loopback (argv: port, then the stage URLs)."""

import sys

import aiohttp
from aiohttp import web

_JSON = {"Content-Type": "application/json"}


def main() -> None:
    port, urls = int(sys.argv[1]), sys.argv[2:]
    session: aiohttp.ClientSession | None = None

    async def start(app: web.Application) -> None:
        nonlocal session
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def stop(app: web.Application) -> None:
        assert session is not None
        await session.close()

    async def invocations(request: web.Request) -> web.Response:
        body = await request.read()
        for url in urls:
            async with session.post(url, data=body, headers=_JSON) as resp:
                body = await resp.read()
                if resp.status != 200:
                    return web.Response(status=502, body=body)
        return web.Response(body=body, content_type="application/json")

    async def ping(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/invocations", invocations)
    app.router.add_get("/ping", ping)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
