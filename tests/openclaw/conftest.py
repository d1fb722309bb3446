"""One real OpenClaw gateway per test session, with the offline model as its LLM and the
pre-warm's stand-in model configured beside it (as the agent configures it)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from serverless_openclaw.agent.openclaw.client import GatewayClient
from serverless_openclaw.agent.openclaw.config import ModelChoice, patch_config, write_config
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.agent.openclaw.gateway_process import (
    GatewayProcess,
    gateway_environment,
)
from serverless_openclaw.agent.prewarm import StandIn
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.loopback import free_port
from serverless_openclaw.runtime.installer import OpenClawRuntime
from serverless_openclaw.settings import environ_snapshot


@dataclass
class RunningGateway:
    process: GatewayProcess
    token: str
    state_dir: Path
    stand_in: StandIn

    @property
    def url(self) -> str:
        return self.process.url

    async def restart(self) -> None:
        await self.process.stop()
        await self.process.start()
        await self.process.wait_ready()


@pytest.fixture(scope="session")
async def gateway(
    openclaw_runtime: OpenClawRuntime,
    offline_model,  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningGateway]:
    root = tmp_path_factory.mktemp("gateway")
    state_dir, home = root / "state", root / "home"
    state_dir.mkdir()
    home.mkdir()
    port = free_port()
    token = secrets.token_urlsafe(24)
    stand_in = StandIn()
    await stand_in.start()
    config = patch_config(
        None,
        port=port,
        model=ModelChoice("offline", base_url=offline_model.base_url),
        log_file=root / "logs" / "openclaw.log",
        prewarm_url=stand_in.base_url,
    )
    write_config(state_dir / "openclaw.json", config)
    env = gateway_environment(environ_snapshot(), state_dir=state_dir, home=home, token=token)
    process = GatewayProcess(
        openclaw_runtime, state_dir, port, env, log_path=root / "logs" / "gateway.out"
    )
    await process.start()
    await process.wait_ready()
    yield RunningGateway(process, token, state_dir, stand_in)
    await process.stop()
    await stand_in.stop()


@pytest.fixture
async def client(gateway, offline_model) -> AsyncIterator[GatewayClient]:  # type: ignore[no-untyped-def]
    """A client of the session's gateway, as the bridge connects, with the offline model's
    script cleared (a module that starts its own `gateway` gets a client of that one)."""
    offline_model.reset()
    async with GatewayClient(
        gateway.url,
        gateway.token,
        identity=DeviceIdentity.load_or_create(gateway.state_dir),
        backoff=Backoff(base=0.1, cap=1.0),
    ) as connected:
        yield connected
