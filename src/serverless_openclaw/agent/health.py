"""The task's own HTTP endpoint on 127.0.0.1 (never exposed: the task has no inbound rule).

- GET /health   200 when the gateway is connected and the bridge runs, else 503
                (the container HEALTHCHECK and the local compute backend use it)
- GET /status   phase, start-up timings, turns, last backup (the dev stack and benchmarks)
- POST /shutdown  the same as SIGTERM
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the supervisor owns the signals


def create_app(
    *,
    healthy: Callable[[], bool],
    status: Callable[[], dict[str, Any]],
    shutdown: Callable[[], None],
) -> Starlette:
    async def get_health(_: Request) -> Response:
        ok = healthy()
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    async def get_status(_: Request) -> Response:
        return JSONResponse(status())

    async def post_shutdown(_: Request) -> Response:
        shutdown()
        return JSONResponse({"stopping": True}, status_code=202)

    return Starlette(
        routes=[
            Route("/health", get_health, methods=["GET"]),
            Route("/status", get_status, methods=["GET"]),
            Route("/shutdown", post_shutdown, methods=["POST"]),
        ]
    )


async def serve(app: Starlette, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Serve on 127.0.0.1:`port` (0 = any free port); returns the port in use."""
    server = _Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve(), name="health-server")
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"health server could not listen on 127.0.0.1:{port}")
        await asyncio.sleep(0.01)
    bound = port
    for listener in server.servers:
        for sock in listener.sockets:
            bound = int(sock.getsockname()[1])
    return server, task, bound
