"""The dashboard's routes in process: redirects, the built files, their types, nothing else."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tandem.api.dashboard import STATIC_DIR, add_routes


async def _client(static_dir: Path = STATIC_DIR) -> TestClient:
    app = web.Application()
    add_routes(app, static_dir)
    return TestClient(TestServer(app))


async def test_root_and_bare_dashboard_redirect_to_the_page() -> None:
    async with await _client() as client:
        for path in ("/", "/dashboard"):
            resp = await client.get(path, allow_redirects=False)
            assert (resp.status, resp.headers["Location"]) == (302, "/dashboard/")


async def test_the_built_files_are_served_with_their_types_and_a_strict_policy() -> None:
    async with await _client() as client:
        for path, kind in (
            ("/dashboard/", "text/html; charset=utf-8"),
            ("/dashboard/app.js", "text/javascript; charset=utf-8"),
            ("/dashboard/app.css", "text/css; charset=utf-8"),
        ):
            resp = await client.get(path)
            assert resp.status == 200
            assert resp.headers["Content-Type"] == kind
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert "script-src 'self';" in resp.headers["Content-Security-Policy"]
        page = await (await client.get("/dashboard/")).text()
        assert '<script src="/dashboard/app.js"></script>' in page
        assert "http" not in page.replace("http-equiv", "")  # nothing from elsewhere


async def test_only_known_kinds_inside_the_folder_are_served(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("<!doctype html>")
    (tmp_path / "static" / "notes.txt").write_text("private")
    (tmp_path / "secret.js").write_text("private")
    async with await _client(tmp_path / "static") as client:
        for path in (
            "/dashboard/notes.txt",
            "/dashboard/missing.js",
            "/dashboard/..%2Fsecret.js",
            "/dashboard/%2E%2E/secret.js",
        ):
            resp = await client.get(path)
            assert resp.status == 404, path
