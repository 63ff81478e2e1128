"""The HTTP edge of the runtime: GET /ping and POST /invocations on one port.

aiohttp's low-level server (no Application, router or middleware) keeps the per-request
cost close to a hand-written aiohttp handler. Handler functions run on the event loop by
default, one request at a time per worker, like the toolkit's synchronous workers; with
SAGEMAKER_RUNTIME_THREADED set they run in a thread pool so /ping answers during a long
prediction. SAGEMAKER_MODEL_SERVER_WORKERS > 1 forks workers after the model is loaded, each
binding the port with SO_REUSEPORT so the kernel spreads connections across them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import sys
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

from . import codecs
from .environment import RuntimeEnvironment
from .handler import Handler

__all__ = ["serve", "bind"]

log = logging.getLogger("tandem.runtime")
_SHUTDOWN_GRACE = 5.0


def bind(host: str, port: int, *, reuse_port: bool, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port, listening unless told not to."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(1024)
    sock.setblocking(False)
    return sock


def _make_app(handler: Handler, env: RuntimeEnvironment) -> Any:
    default_accept = env.default_accept
    threaded = env.threaded
    invoke = handler.invoke
    ping_response = functools.partial(web.Response, status=200)

    async def app(request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == "/invocations":
            if request.method != "POST":
                return web.Response(status=405, headers={"Allow": "POST"})
            body = await request.read()
            headers = request.headers
            content_type = headers.get("Content-Type") or codecs.JSON
            accept = headers.get("Accept")
            if not accept or accept == codecs.ANY:
                accept = default_accept
            if threaded:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(
                    None, invoke, body, content_type, accept, headers)
            else:
                result = invoke(body, content_type, accept, headers)
            response_headers = {"Content-Type": result.content_type}
            if result.headers:
                response_headers.update(result.headers)
            return web.Response(body=result.body, status=result.status, headers=response_headers)
        if path == "/ping":
            if request.method not in ("GET", "HEAD"):
                return web.Response(status=405, headers={"Allow": "GET"})
            # Loaded before the port was bound, so answering at all means ready.
            return ping_response()
        return web.Response(status=404, text=f"no route {path}; this container serves "
                            "GET /ping and POST /invocations\n")

    return app


async def _serve_async(sock: socket.socket, handler: Handler, env: RuntimeEnvironment) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    max_size = env.max_payload_bytes

    def request_factory(message: Any, payload: Any, protocol: Any, writer: Any,
                        task: Any) -> BaseRequest:
        return BaseRequest(message, payload, protocol, writer, task, loop,
                           client_max_size=max_size)

    server = web.Server(
        _make_app(handler, env),
        request_factory=request_factory,
        access_log=logging.getLogger("tandem.runtime.access") if env.log_level <= 10 else None,
        keepalive_timeout=75.0,
    )
    listener = await loop.create_server(server, sock=sock, backlog=1024)
    host, port = sock.getsockname()[:2]
    log.info("serving on http://%s:%d (pid %d)", host, port, os.getpid())
    await stop.wait()
    listener.close()
    server.pre_shutdown()
    await server.shutdown(_SHUTDOWN_GRACE)
    await listener.wait_closed()


def _run_worker(sock: socket.socket, handler: Handler, env: RuntimeEnvironment) -> None:
    asyncio.run(_serve_async(sock, handler, env))


def serve(handler: Handler, env: RuntimeEnvironment) -> int:
    """Serve until SIGTERM; returns the exit status."""
    if env.workers == 1:
        _run_worker(bind(env.host, env.port, reuse_port=False), handler, env)
        return 0
    return _serve_forked(handler, env)


def _serve_forked(handler: Handler, env: RuntimeEnvironment) -> int:
    # The parent binds first, so a port in use fails here before any fork, and keeps its
    # socket bound so the port stays claimed while workers come and go. It never listens:
    # a listening socket would get its share of connections and leave them unanswered.
    guard = bind(env.host, env.port, reuse_port=True, listen=False)
    port = guard.getsockname()[1]
    children: set[int] = set()
    stopping = False

    def signal_all(signum: int) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    parent = os.getpid()

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopping
        if os.getpid() != parent:
            # Caught by the parent just before a fork and run late in the child: the
            # container is stopping, and so does this worker.
            os._exit(0)
        stopping = True
        signal_all(signum)

    # Installed before forking, so a TERM arriving mid-start still reaches the started workers.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    for _ in range(env.workers):
        # Held back across fork: a child must not run the parent's forwarder (it would outlive
        # the TERM meant for it), and the parent must know a child's pid before forwarding.
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        pid = os.fork()
        if pid == 0:
            # Until its event loop takes over, a worker stops on TERM like any process.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
            guard.close()
            try:
                _run_worker(bind(env.host, port, reuse_port=True), handler, env)
                code = 0
            except BaseException:  # noqa: BLE001 - the child must never return into the parent
                logging.getLogger("tandem.runtime").exception("worker failed")
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        children.add(pid)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    if stopping:
        signal_all(signal.SIGTERM)  # told to stop while forking: reach the late children too
    log.info("%d workers on port %d", len(children), port)
    status = 0
    while children:
        pid, wait_status = os.wait()
        children.discard(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if code != 0 and not stopping:
            # A worker died on its own: stop the rest so the supervisor sees the container fail
            # and restarts it whole, instead of serving on with fewer workers. (A worker still
            # starting when told to stop dies of the signal itself; that is no failure.)
            status, stopping = 1, True
            log.error("worker %d exited with %d; stopping the container", pid, code)
            signal_all(signal.SIGTERM)
    guard.close()
    return status
