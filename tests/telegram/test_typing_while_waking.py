"""While the agent a Telegram message woke is starting, the chat keeps showing "typing…"
(it lasts ~5 s in Telegram, so it is repeated), and it stops once the reply takes over.
Against the fake Bot API over HTTP, which records every call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from serverless_openclaw.agent.waking import TELEGRAM_WAKE, TypingWhileWaking, typing_for_wake
from serverless_openclaw.contracts.records import TelegramLink
from serverless_openclaw.telegram.bot_api import AsyncBotApi

from .conftest import FakeBot

CHAT = 4242


@dataclass
class Ticks:
    """The loop's pause: each call waits until the test lets one interval pass."""

    passed: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    waiting: int = 0

    async def sleep(self, _: float) -> None:
        self.waiting += 1
        await self.passed.get()

    async def let_pass(self) -> None:
        self.passed.put_nowait(None)
        for _ in range(50):
            await asyncio.sleep(0.01)  # let the HTTP call of the next round finish
            if self.passed.empty():
                break


def typing_calls(fake_bot: FakeBot) -> list[int]:
    return [int(call.params["chat_id"]) for call in fake_bot.fake.calls("sendChatAction")]


async def wait_for_calls(fake_bot: FakeBot, count: int) -> None:
    for _ in range(500):
        if len(typing_calls(fake_bot)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(typing_calls(fake_bot))} typing calls, wanted {count}")


async def test_typing_is_repeated_every_interval_until_the_reply_takes_over(
    fake_bot: FakeBot, async_bot_api: AsyncBotApi
) -> None:
    ticks = Ticks()
    typing = TypingWhileWaking(async_bot_api, CHAT, interval=4.0, sleep=ticks.sleep)
    typing.start()
    await wait_for_calls(fake_bot, 1)
    for expected in (2, 3):
        await ticks.let_pass()
        await wait_for_calls(fake_bot, expected)
    assert typing_calls(fake_bot) == [CHAT, CHAT, CHAT]
    assert all(c.params["action"] == "typing" for c in fake_bot.fake.calls("sendChatAction"))

    typing.handed_over()
    await ticks.let_pass()
    await ticks.let_pass()
    await typing.stop()
    assert len(typing_calls(fake_bot)) == 3, "no typing after the reply took over"


async def test_a_refused_typing_call_does_not_stop_the_start(
    fake_bot: FakeBot, async_bot_api: AsyncBotApi
) -> None:
    fake_bot.fake.fail_next("sendChatAction", status=500, description="Internal Server Error")
    ticks = Ticks()
    typing = TypingWhileWaking(async_bot_api, CHAT, sleep=ticks.sleep)
    typing.start()
    await wait_for_calls(fake_bot, 1)
    await ticks.let_pass()
    await wait_for_calls(fake_bot, 2)
    for _ in range(500):  # the second call's answer on its way back
        if typing.sent:
            break
        await asyncio.sleep(0.01)
    await typing.stop()
    assert typing.sent == 1, "the refused call did not end the loop; the next one went out"


async def test_it_gives_up_after_its_limit(fake_bot: FakeBot, async_bot_api: AsyncBotApi) -> None:
    ticks = Ticks()
    typing = TypingWhileWaking(async_bot_api, CHAT, interval=4.0, limit=8.0, sleep=ticks.sleep)
    typing.start()
    await wait_for_calls(fake_bot, 1)
    for _ in range(4):
        await ticks.let_pass()
    await typing.stop()
    assert len(typing_calls(fake_bot)) == 2


@dataclass
class Links:
    link: TelegramLink | None

    def link_of_user(self, user_id: str) -> TelegramLink | None:
        return self.link


async def test_only_a_telegram_wake_shows_typing_and_only_in_the_linked_chat(
    fake_bot: FakeBot, async_bot_api: AsyncBotApi
) -> None:
    link = TelegramLink(chatId=CHAT, linkedAt=datetime.now(UTC))
    for reason in (None, "connect", "web message", "scheduled job"):
        assert await typing_for_wake(reason, async_bot_api, Links(link), "u1") is None  # type: ignore[arg-type]
    assert await typing_for_wake(TELEGRAM_WAKE, None, Links(link), "u1") is None  # type: ignore[arg-type]
    assert await typing_for_wake(TELEGRAM_WAKE, async_bot_api, Links(None), "u1") is None  # type: ignore[arg-type]

    typing = await typing_for_wake(TELEGRAM_WAKE, async_bot_api, Links(link), "u1")  # type: ignore[arg-type]
    assert typing is not None
    await wait_for_calls(fake_bot, 1)
    await typing.stop()
    assert typing_calls(fake_bot) == [CHAT]
