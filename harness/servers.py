"""Loopback HTTP servers that outlive a test, each serving whatever app the current test
mounts on it.

A fixture that starts a server of its own per test (a fake Bot API, the ECS emulator, the
@connections endpoint) pays ~0.15 s to start and stop it; over the fast group's hundreds of
such tests that was the largest part of their set-up. Here one server per kind and worker
stays up, and each test mounts its own fresh app (its own fake, its own emulator) for its
duration: nothing of one test's state reaches the next, only the listening socket is shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from serverless_openclaw.local.serve import ServerHandle, serve_in_thread


class AppSlot:
    """An ASGI app that forwards to the app mounted on it; refuses while none is."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError(f"nothing is mounted on the shared {self.name} server")
        await self.app(scope, receive, send)


class SharedServers:
    """One server per name, started on first use and stopped by `close()`."""

    def __init__(self) -> None:
        self._servers: dict[str, tuple[ServerHandle, AppSlot]] = {}

    @contextmanager
    def mount(self, name: str, app: ASGIApp) -> Iterator[ServerHandle]:
        """Serve `app` on the `name` server until the block ends."""
        if name not in self._servers:
            slot = AppSlot(name)
            self._servers[name] = (serve_in_thread(slot), slot)
        handle, slot = self._servers[name]
        if slot.app is not None:
            raise RuntimeError(f"the shared {name} server already serves another app")
        slot.app = app
        try:
            yield handle
        finally:
            slot.app = None

    def close(self) -> None:
        for handle, _ in self._servers.values():
            handle.stop()
        self._servers.clear()
