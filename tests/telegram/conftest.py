"""Fixtures of the Telegram tests: the fake Bot API server over real HTTP, and a virtual
clock for the reply streamer (pacing and retry waits advance it instead of sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from serverless_openclaw.local.fake_telegram import FakeTelegram
from serverless_openclaw.local.serve import ServerHandle, serve_in_thread
from serverless_openclaw.telegram.bot_api import AsyncBotApi, BotApi


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
def fake_bot(clock: VirtualClock) -> Iterator[FakeBot]:
    fake = FakeTelegram(clock=clock)
    server = serve_in_thread(fake.app)
    try:
        yield FakeBot(fake, server)
    finally:
        server.stop()


@pytest.fixture
def bot_api(fake_bot: FakeBot) -> Iterator[BotApi]:
    with BotApi(fake_bot.token, base_url=fake_bot.url) as api:
        yield api


@pytest.fixture
async def async_bot_api(fake_bot: FakeBot) -> AsyncIterator[AsyncBotApi]:
    async with AsyncBotApi(fake_bot.token, base_url=fake_bot.url) as api:
        yield api
