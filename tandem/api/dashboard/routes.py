"""``GET /dashboard/``: the built single-page app (``frontend/`` builds into ``static/``).

The page itself calls the same public APIs as boto3 does (SageMaker, CloudWatch,
CloudWatch Logs on ``POST /``), so this module only serves files: no CDN, nothing
fetched at run time. Log lines are untrusted text; the page renders them with
``textContent`` and this module adds a Content-Security-Policy that allows only the
page's own script, as a second line of defence.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["STATIC_DIR", "add_routes", "CONTENT_TYPES"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _file(path: Path) -> web.FileResponse:
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": "no-cache",
        **_SECURITY_HEADERS,
    }
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application, static_dir: Path = STATIC_DIR) -> None:
    """``/`` and ``/dashboard`` redirect to ``/dashboard/``; files below it come from
    ``static_dir`` (only the known kinds; nothing outside the directory)."""
    root = static_dir.resolve()

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/dashboard/")

    async def index(request: web.Request) -> web.StreamResponse:
        return _file(root / "index.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (root / name).resolve()
        if root not in path.parents or path.suffix not in CONTENT_TYPES or not path.is_file():
            raise web.HTTPNotFound(text="Not found.")
        return _file(path)

    app.router.add_get("/", redirect)
    app.router.add_get("/dashboard", redirect)
    app.router.add_get("/dashboard/", index)
    app.router.add_get("/dashboard/{name:.+}", asset)
