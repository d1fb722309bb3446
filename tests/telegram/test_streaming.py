"""The reply streamer against the fake Bot API over HTTP, with a virtual clock."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.telegram.bot_api import AsyncBotApi
from serverless_openclaw.telegram.streaming import ReplyStreamer, ShownReply

from .conftest import FakeBot, VirtualClock

CHAT = 4242
MESSAGE_CALLS = ("sendMessage", "editMessageText", "deleteMessage")


def _streamer(api: AsyncBotApi, clock: VirtualClock, **options: float) -> ReplyStreamer:
    return ReplyStreamer(api, CHAT, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def _message_call_times(fake_bot: FakeBot) -> list[float]:
    return [c.at for c in fake_bot.fake.calls() if c.method in MESSAGE_CALLS]


async def test_a_ten_thousand_character_reply_arrives_as_three_messages_in_order(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    reply = " ".join(f"w{i:04d}" for i in range(2000))[:10_000]
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.start()
        for end in range(500, len(reply), 500):
            await streamer.update(reply[:end])
            await asyncio.sleep(0.01)
        ids = await streamer.finish(reply)
    messages = fake_bot.fake.messages(CHAT)
    assert [m.message_id for m in messages] == ids
    assert len(messages) == 3
    assert ids == sorted(ids)
    assert " ".join(m.text for m in messages) == reply
    assert all(len(m.text) <= 4096 for m in messages)
    # The first message grew by edits while the model wrote (streamed, not sent at the end).
    assert messages[0].edits >= 2
    times = _message_call_times(fake_bot)
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


async def test_a_burst_of_updates_becomes_few_edits(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    text = ""
    async with _streamer(async_bot_api, clock) as streamer:
        for i in range(300):
            text += f"token{i} "
            await streamer.update(text)  # no pause: the model is faster than Telegram
        await streamer.finish(text.strip())
    [message] = fake_bot.fake.messages(CHAT)
    assert message.text == text.strip()
    assert len(_message_call_times(fake_bot)) <= 3


async def test_typing_is_shown_at_once_and_refreshed_while_working(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    async with _streamer(async_bot_api, clock, typing_interval=0.05) as streamer:
        await streamer.start()
        await asyncio.sleep(0.3)
        await streamer.finish("done")
    typing = fake_bot.fake.calls("sendChatAction")
    assert len(typing) >= 3
    assert all(c.params == {"chat_id": CHAT, "action": "typing"} for c in typing)
    # No "typing…" after the answer.
    methods = [c.method for c in fake_bot.fake.calls()]
    assert methods[-1] == "sendMessage"


async def test_flood_control_retry_after_is_honoured(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    fake_bot.fake.fail_next("sendMessage", status=429, retry_after=7, chat_id=CHAT)
    async with _streamer(async_bot_api, clock) as streamer:
        sent_at = clock.now
        ids = await streamer.finish("the answer")
    assert fake_bot.fake.texts(CHAT) == ["the answer"]
    assert len(ids) == 1
    refused, accepted = fake_bot.fake.calls("sendMessage")
    assert refused.status == 429 and accepted.status == 200
    assert accepted.at - refused.at >= 7
    assert clock.now - sent_at >= 7


async def test_telegram_flood_control_never_costs_the_final_text(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    fake_bot.fake.flood_interval = 3.0  # stricter than the streamer's 1 s pacing
    reply = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 60 for i in range(12))
    async with _streamer(async_bot_api, clock) as streamer:
        for end in range(200, len(reply), 400):
            await streamer.update(reply[:end])
            await streamer.flush()
        await streamer.finish(reply)
    statuses = [c.status for c in fake_bot.fake.calls() if c.method in MESSAGE_CALLS]
    assert 429 in statuses
    texts = fake_bot.fake.texts(CHAT)
    assert "\n\n".join(texts) == reply.replace(" \n\n", "\n\n").strip()


async def test_not_modified_is_not_an_error(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.update("same text")
        await streamer.flush()
        # Telegram says "not modified" when a retried edit had already been applied.
        fake_bot.fake.fail_next(
            "editMessageText",
            status=400,
            description="Bad Request: message is not modified: specified new message content "
            "and reply markup are exactly the same",
        )
        await streamer.update("same text, longer")
        await streamer.flush()
        ids = await streamer.finish("same text, longer")
    assert len(ids) == 1
    # Taken as done: neither retried nor sent as a new message.
    assert len(fake_bot.fake.calls("editMessageText")) == 1
    assert len(fake_bot.fake.calls("sendMessage")) == 1


async def test_refused_html_falls_back_to_plain_text(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    fake_bot.fake.fail_next(
        "sendMessage", status=400, description="Bad Request: can't parse entities: whatever"
    )
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.finish("**bold** and `code`")
    [message] = fake_bot.fake.messages(CHAT)
    assert message.text == "**bold** and `code`"
    assert message.parse_mode is None


async def test_a_deleted_message_is_sent_again(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.update("first words")
        await streamer.flush()
        [shown] = fake_bot.fake.messages(CHAT)
        shown.deleted = True  # the person deleted it
        await streamer.finish("first words and the rest")
    assert fake_bot.fake.texts(CHAT) == ["first words and the rest"]


async def test_a_shorter_final_text_removes_extra_messages(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.update("x " * 3000)  # two messages while streaming
        await streamer.flush()
        assert len(fake_bot.fake.messages(CHAT)) == 2
        await streamer.finish("short after all")
    assert fake_bot.fake.texts(CHAT) == ["short after all"]


async def test_model_errors_are_shown_readably(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    async with _streamer(async_bot_api, clock) as streamer:
        await streamer.update("Let me check that")
        await streamer.flush()
        await streamer.fail("The model provider refused the request (rate limit). Try again.")
    assert fake_bot.fake.texts(CHAT) == [
        "Let me check that",
        "⚠️ The model provider refused the request (rate limit). Try again.",
    ]


async def test_a_blocked_bot_surfaces_as_a_telegram_error(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    fake_bot.fake.blocked_chats.add(CHAT)
    async with _streamer(async_bot_api, clock) as streamer:
        with pytest.raises(TelegramError) as caught:
            await streamer.finish("nobody will read this")
    assert caught.value.status == 403


# --- after a crash: the next attempt takes the messages over ------------------------------------
async def _interrupted(api: AsyncBotApi, clock: VirtualClock, text: str) -> list[int]:
    """An attempt that showed `text` and died before finishing (what the crashed task left)."""
    shown: list[list[int]] = []

    async def remember(ids: list[int]) -> None:
        shown.append(list(ids))

    streamer = ReplyStreamer(api, CHAT, clock=clock, sleep=clock.sleep, on_shown=remember)
    await streamer.update(text)
    await streamer.flush()
    await streamer.aclose()  # no finish: the task is gone
    return shown[-1]


async def test_the_next_attempt_edits_the_cut_off_message_into_the_full_reply(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    ids = await _interrupted(async_bot_api, clock, "The answer is forty")
    assert fake_bot.fake.texts(CHAT) == ["The answer is forty"]
    streamer = ReplyStreamer(async_bot_api, CHAT, clock=clock, sleep=clock.sleep, resume=ids)
    async with streamer:
        final = await streamer.finish("The answer is forty-two.")
    assert final == ids  # the same message, now complete
    assert fake_bot.fake.texts(CHAT) == ["The answer is forty-two."]
    assert len(fake_bot.fake.calls("sendMessage")) == 1  # one message in all


async def test_a_resumed_reply_that_needs_fewer_messages_deletes_the_rest(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    ids = await _interrupted(async_bot_api, clock, "x " * 3000)
    assert len(ids) == 2
    reported: list[list[int]] = []

    async def remember(shown: list[int]) -> None:
        reported.append(list(shown))

    streamer = ReplyStreamer(
        async_bot_api, CHAT, clock=clock, sleep=clock.sleep, resume=ids, on_shown=remember
    )
    async with streamer:
        await streamer.fail("The agent stopped before it could answer. Send it again.")
    assert fake_bot.fake.texts(CHAT) == [
        "⚠️ The agent stopped before it could answer. Send it again."
    ]
    assert reported[-1] == ids[:1]


async def test_a_resumed_message_the_person_deleted_is_replaced(
    async_bot_api: AsyncBotApi, fake_bot: FakeBot, clock: VirtualClock
) -> None:
    ids = await _interrupted(async_bot_api, clock, "half of it")
    fake_bot.fake.messages(CHAT)[0].deleted = True
    reported: list[list[int]] = []

    async def remember(shown: list[int]) -> None:
        reported.append(list(shown))

    streamer = ReplyStreamer(
        async_bot_api, CHAT, clock=clock, sleep=clock.sleep, resume=ids, on_shown=remember
    )
    async with streamer:
        final = await streamer.finish("all of it")
    assert fake_bot.fake.texts(CHAT) == ["all of it"]
    assert final != ids and reported[-1] == final


def test_shown_replies_survive_the_row_and_damage_shows_nothing() -> None:
    shown = ShownReply("tg-00042", CHAT, (17, 18))
    assert ShownReply.decode(shown.encode()) == shown
    assert shown.resume_for("tg-00042", CHAT) == (17, 18)
    assert shown.resume_for("tg-00043", CHAT) == ()  # another job's messages stay
    assert shown.resume_for("tg-00042", CHAT + 1) == ()
    for damaged in (None, "", "{", "[]", '{"job":1,"chat":2,"messages":[]}', '{"job":"a"}'):
        assert ShownReply.decode(damaged) is None
    assert ShownReply.decode('{"job":"a","chat":1,"messages":[true]}') is None
