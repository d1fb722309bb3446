"""Fixtures of the Telegram tests: the fake Bot API server over real HTTP, a virtual clock for
the reply streamer (pacing and retry waits advance it instead of sleeping), and the webhook
Lambda with its real surroundings: moto over HTTP for DynamoDB/SQS, the local ECS emulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from harness import SharedServers
from serverless_openclaw import wiring
from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.inbox import InboxConsumer
from serverless_openclaw.adapters.aws.provision import create_tables
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob
from serverless_openclaw.core.errors import NotFound
from serverless_openclaw.gateway import telegram_webhook
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from serverless_openclaw.local.serve import ServerHandle
from serverless_openclaw.local.telegram_poller import webhook_event
from serverless_openclaw.settings import ComputeSettings, HandlerSettings, TelegramSettings
from serverless_openclaw.telegram.bot_api import AsyncBotApi, BotApi
from serverless_openclaw.wiring import wire_lambda


@dataclass
class VirtualClock:
    now: float = 1_000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class FakeBot:
    fake: FakeTelegram
    server: ServerHandle

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.fake.token


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake_bot(clock: VirtualClock, shared_servers: SharedServers) -> Iterator[FakeBot]:
    fake = FakeTelegram(clock=clock)
    with shared_servers.mount("telegram", fake.app) as server:
        yield FakeBot(fake, server)


@pytest.fixture
def bot_api(fake_bot: FakeBot) -> Iterator[BotApi]:
    with BotApi(fake_bot.token, base_url=fake_bot.url) as api:
        yield api


@pytest.fixture
async def async_bot_api(fake_bot: FakeBot) -> AsyncIterator[AsyncBotApi]:
    async with AsyncBotApi(fake_bot.token, base_url=fake_bot.url) as api:
        yield api


# --- the webhook's world: moto, the ECS emulator, the fake Bot API -------------------------
WEBHOOK_SECRET = "webhook-s3cret_for-tests"


@dataclass
class Webhook:
    """The Telegram webhook Lambda, as Telegram (or the dev-stack poller) calls it."""

    services: Services
    fake: FakeTelegram
    fake_url: str
    ecs: EcsEmulator

    def post(self, update: dict[str, Any], *, secret: str | None = WEBHOOK_SECRET) -> int:
        event = webhook_event(json.dumps(update), secret)
        answer = telegram_webhook.handler(event, LambdaContext())
        return int(answer["statusCode"])

    def say(self, chat_id: int, text: str, **kwargs: Any) -> int:
        return self.post(self.fake.user_message(chat_id, text, **kwargs))

    def replies(self, chat_id: int) -> list[str]:
        return self.fake.texts(chat_id)

    def take_jobs(self, user_id: str) -> list[ChatJob | ControlJob]:
        """Everything in the user's inbox, in order, removed (a FIFO group shows its next
        messages only once the earlier ones are gone)."""
        try:
            url = self.services.inbox.queue_url(user_id, create=False)
        except NotFound:
            return []
        consumer = InboxConsumer(self.services.ports.clients.sqs(), url)
        jobs: list[ChatJob | ControlJob] = []
        while batch := consumer.receive(max_messages=10, wait_seconds=0):
            for received in batch:
                assert received.job is not None
                jobs.append(received.job)
                consumer.delete(received.receipt_handle)
        return jobs

    def queues(self) -> list[str]:
        answer = self.services.ports.clients.sqs().list_queues(QueueNamePrefix=self.services.prefix)
        return answer.get("QueueUrls", [])

    def pair(self, chat_id: int, user_id: str) -> None:
        code = self.services.telegram.create_pairing_code(user_id).code
        assert self.say(chat_id, f"/pair {code}") == 200
        assert self.services.telegram.user_for_chat(chat_id) == user_id


@dataclass(frozen=True)
class LambdaContext:
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    function_name: str = "telegram_webhook"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:tg"
    memory_limit_in_mb: int = 256
    log_group_name: str = "/aws/lambda/tg"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def ecs_emulator(
    aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_servers: SharedServers
) -> Iterator[EcsEmulator]:
    """Local ECS whose tasks never report (the agent's side is not under test here)."""
    emulator = EcsEmulator(
        default=TaskDefinition(command=("sleep", "3600")),
        log_dir=tmp_path / "tasks",
        stop_timeout_s=2,
    )
    try:
        with shared_servers.mount("ecs", emulator.app) as handle:
            monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)
            yield emulator
    finally:
        emulator.close(timeout_s=5)


def handler_settings(api_base: str, *, configured: bool = True) -> HandlerSettings:
    telegram = (
        TelegramSettings(
            telegram_api_base=api_base,
            telegram_bot_token=SecretStr(DEFAULT_TOKEN),
            telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        )
        if configured
        else TelegramSettings(telegram_api_base=api_base)
    )
    return HandlerSettings(
        compute=ComputeSettings(
            ecs_cluster="agents",
            task_definition="serverless-openclaw-agent",
            subnets=["subnet-0a1b2c3d"],
            security_groups=["sg-0a1b2c3d"],
        ),
        telegram=telegram,
    )


@pytest.fixture
def webhook(aws: Any, fake_bot: FakeBot, ecs_emulator: EcsEmulator) -> Iterator[Webhook]:
    clients = AwsClients(aws.region)
    create_tables(clients.dynamodb(), aws.prefix)
    services = wire_lambda(handler_settings(fake_bot.url), clients=clients)
    wiring.reset(services)
    try:
        yield Webhook(services, fake_bot.fake, fake_bot.url, ecs_emulator)
    finally:
        wiring.reset(None)
        services.close()
