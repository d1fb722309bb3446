"""Where the supervisor gets OpenClaw from: the runtime, the gateway process and a connection.

`OpenClawHost` is the supervisor's seam: `NodeOpenClaw` installs/locates the pinned Node +
OpenClaw, runs `openclaw gateway` (gateway_process.py) and connects the real client;
`fake.FakeOpenClaw` does the same with no Node, for unit tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.runtime.installer import OpenClawRuntime, install, locate

from . import config as oc_config
from .client import GatewayClient
from .device import DeviceIdentity
from .gateway import Gateway
from .gateway_process import GatewayProcess
from .runs import EventListener


class GatewayProcessHandle(Protocol):
    """The `openclaw gateway` child process, as the supervisor drives it."""

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    async def start(self) -> None: ...

    async def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ready; `GatewayError` when it exits first or takes too long."""
        ...

    async def wait(self) -> int:
        """Until the process exits; its exit code."""
        ...

    async def stop(self, timeout: float = 15.0) -> int | None: ...


class OpenClawHost(Protocol):
    async def install(self) -> None:
        """Make the runtime available (locate it, or install it on first use)."""
        ...

    async def validate(self, state_dir: Path, env: Mapping[str, str]) -> list[str]:
        """Warnings about the config in `state_dir`; `ConfigInvalid` when OpenClaw would
        refuse to start with it."""
        ...

    def process(
        self, *, state_dir: Path, port: int, env: Mapping[str, str], log_path: Path
    ) -> GatewayProcessHandle: ...

    def client(
        self, url: str, token: str, *, state_dir: Path, on_event: EventListener | None
    ) -> Gateway:
        """A connection (not started) to the gateway at `url`."""
        ...


class NodeOpenClaw:
    """The pinned OpenClaw on Node 24: what runs in the task."""

    def __init__(self, runtime_dir: Path | None, *, runtime: OpenClawRuntime | None = None) -> None:
        self._runtime_dir = runtime_dir
        self._runtime = runtime

    @property
    def runtime(self) -> OpenClawRuntime:
        if self._runtime is None:
            raise RuntimeError("install() first")
        return self._runtime

    async def install(self) -> None:
        if self._runtime is None:
            self._runtime = locate(self._runtime_dir) or await asyncio.to_thread(
                install, self._runtime_dir
            )

    async def validate(self, state_dir: Path, env: Mapping[str, str]) -> list[str]:
        return await asyncio.to_thread(oc_config.validate, self.runtime, state_dir, env)

    def process(
        self, *, state_dir: Path, port: int, env: Mapping[str, str], log_path: Path
    ) -> GatewayProcess:
        return GatewayProcess(self.runtime, state_dir, port, env, log_path)

    def client(
        self, url: str, token: str, *, state_dir: Path, on_event: EventListener | None
    ) -> GatewayClient:
        return GatewayClient(
            url,
            token,
            identity=DeviceIdentity.load_or_create(state_dir),
            backoff=Backoff(base=0.2, cap=5.0),
            on_event=on_event,
        )
