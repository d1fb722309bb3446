"""Run an ASGI app with uvicorn on loopback, in a thread (tests, CLI) or as a task (dev stack)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from serverless_openclaw.core.errors import PortInUse
from serverless_openclaw.loopback import free_port


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on `host:port` (0 = any free port), or `PortInUse` naming `what`
    would have listened there. Binding before serving is what turns a taken port into one
    clear error instead of a server thread that dies while the stack waits forever."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As uvicorn does: a port in TIME_WAIT after our own restart is not "in use".
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortInUse(port, what) from exc
    sock.set_inheritable(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal handling (the owner of the process decides about signals)
    and with a stop that is seen at once: uvicorn looks at `should_exit` every 0.1 s, which
    the ~200 servers the fast tests start and stop would wait for one after the other."""

    _exit_requested: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit_requested = asyncio.Event()
        if self.should_exit:
            return
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 0.1)

    def request_exit(self) -> None:
        """From any thread: stop serving now."""
        self.should_exit = True
        loop, event = self._loop, self._exit_requested
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws_max_size=16 * 1024 * 1024,
        timeout_graceful_shutdown=2,
    )


@dataclass
class ServerHandle:
    """A running server. `stop()` is idempotent and waits for the thread to finish."""

    host: str
    port: int
    _server: _Server
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self._server.request_exit()
        if self._thread is not None:
            self._thread.join(timeout)


def serve_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 10.0
) -> ServerHandle:
    port = port or free_port(host)
    server = _Server(_config(app, host, port))
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.01)
    return ServerHandle(host, port, server, thread)


async def serve_task(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
) -> tuple[ServerHandle, asyncio.Task[None]]:
    """Start a server inside the running event loop (on `sock` when given: see `bind`);
    cancel or `stop()` the handle to end it."""
    if sock is None:
        sock = bind(host, port, "a local server")
    host, port = sock.getsockname()[:2]
    server = _Server(_config(app, host, port))
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{port}")
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"server on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    return ServerHandle(host, port, server), task
