"""The fuzzers' world: the control plane's real surroundings (moto over HTTP with this test's
own tables, moto's Cognito, the local ECS emulator running the no-op agent, a recording
@connections endpoint — all from tests/control_plane/conftest.py) plus the fake Telegram Bot
API, and one `Services` built against them with Telegram configured and the per-minute
message quota lifted (so that generated messages keep reaching the inbox and the wake path
instead of stopping at 429).

`Services` is also installed as the container's (`services.reset`), so the real Lambda entry
points `handler(event, context)` use it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from tests.control_plane import conftest as control_plane
from tests.control_plane.conftest import Cognito, ConnectionsEndpoint, Ecs
from tests.telegram.conftest import WEBHOOK_SECRET

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.settings import (
    ComputeSettings,
    HandlerSettings,
    QuotaSettings,
    TelegramSettings,
)
from serverless_openclaw.wiring import wire_lambda

# The control plane's fixtures, shared as they are (a conftest sees only its own folder's).
provisioned = control_plane.provisioned
cognito = control_plane.cognito
connections_endpoint = control_plane.connections_endpoint
ecs = control_plane.ecs

PAIRED_CHAT = 424242
CONNECTION = "FuzzConn01="


@dataclass(frozen=True, repr=False)
class World:
    services: Services
    user_id: str
    connection_id: str
    paired_chat: int
    fake_telegram: FakeTelegram

    def __repr__(self) -> str:  # keeps hypothesis' failure reports readable
        return f"World(user={self.user_id})"


@pytest.fixture
def world(
    provisioned: AwsClients,
    cognito: Cognito,
    connections_endpoint: ConnectionsEndpoint,
    ecs: Ecs,
) -> Iterator[World]:
    fake = FakeTelegram(token=DEFAULT_TOKEN)
    server = serve_in_thread(fake.app)
    settings = HandlerSettings(
        compute=ComputeSettings(
            ecs_cluster="agents",
            task_definition="serverless-openclaw-agent",
            subnets=["subnet-0a1b2c3d"],
            security_groups=["sg-0a1b2c3d"],
        ),
        quotas=QuotaSettings(messages_per_minute=1_000_000),
        telegram=TelegramSettings(
            telegram_api_base=server.url,
            telegram_bot_token=SecretStr(DEFAULT_TOKEN),
            telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        ),
    )
    services = wire_lambda(settings, clients=provisioned)
    user = cognito.user()
    services.user_settings.update(user.sub, {"wakeOnConnect": False})
    services.connections.put(CONNECTION, user.sub, services.clock())
    services.telegram.link(PAIRED_CHAT, user.sub, "fuzzer")
    ops.reset(services)
    try:
        yield World(services, user.sub, CONNECTION, PAIRED_CHAT, fake)
    finally:
        ops.reset(None)
        server.stop()


def check_answer(answer: Any) -> int:
    """A Lambda proxy answer with a status code below 500; returns the status."""
    assert isinstance(answer, dict), answer
    status = answer.get("statusCode")
    assert isinstance(status, int), answer
    assert status < 500, answer
    return status
