"""The watchdog's answer to a message that failed every delivery: an error reply under the
question on the web (with "send again"), and in Telegram the message that showed the cut-off
reply becomes that answer instead of a second message. Memory adapters, the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.jobs import ChatJob, TelegramReplyTo
from serverless_openclaw.core.task_state import MarkRunning, Wake
from serverless_openclaw.gateway import notices
from serverless_openclaw.settings import HandlerSettings, TelegramSettings
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.streaming import ShownReply

from .conftest import WEBHOOK_SECRET, FakeBot

USER = "notice-user-1"
CHAT = 880_001
BROWSER = "conn-notice-1"


@pytest.fixture
def services(fake_bot: FakeBot) -> Iterator[Services]:
    settings = HandlerSettings.given(
        telegram=TelegramSettings.given(
            telegram_api_base=fake_bot.url,
            telegram_bot_token=SecretStr(fake_bot.token),
            telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        )
    )
    ports = MemoryPorts()
    built = Services(settings, ports)
    built.telegram.link(CHAT, USER, "ada")
    built.connections.put(BROWSER, USER, built.clock())
    yield built
    built.close()


def _job(services: Services) -> ChatJob:
    job = ChatJob(
        jobId="tg-00077",
        userId=USER,
        source="telegram",
        conversationId="main",
        text="tell me everything",
        replyTo=TelegramReplyTo(chatId=CHAT, messageId=3),
        receivedAt=datetime.now(UTC),
    )
    services.conversations.put_message(USER, job.user_message())
    return job


def _cut_off(services: Services, bot: tg.BotApi, job: ChatJob, text: str) -> int:
    """What a task that died mid-reply left: a message in the chat, recorded in its row."""
    message = bot.call(tg.send_message(CHAT, text))
    now = services.clock()
    services.task_state.transition(USER, Wake("L1", now))
    services.task_state.transition(USER, MarkRunning("L1", now))
    shown = ShownReply(job.jobId, CHAT, (message.message_id,))
    services.task_state.set_telegram_reply(USER, "L1", shown.encode())
    return message.message_id


def test_a_dead_letter_is_answered_with_an_error_reply_in_place_of_the_cut_off_one(
    services: Services, fake_bot: FakeBot, bot_api: tg.BotApi
) -> None:
    job = _job(services)
    cut_off = _cut_off(services, bot_api, job, "Here is everything: first,")
    assert notices.notify_unanswered(services, job, at=services.clock())

    [stored] = [
        m for m in services.conversations.list_messages(USER, "main").items if m.role == "assistant"
    ]
    assert stored.inReplyTo == job.jobId
    assert stored.error is not None
    assert (stored.error.code, stored.error.retryable) == ("unanswered", True)
    push = services.ports.push
    assert push is not None
    [end] = [f for f in push.frames(BROWSER) if f["type"] == "stream_end"]
    assert end["error"]["code"] == "unanswered"

    [shown] = fake_bot.fake.messages(CHAT)
    assert shown.message_id == cut_off, "the cut-off message became the answer"
    assert shown.text.startswith("⚠️ Sorry, I could not answer your message")
    # Twice (a second sweep): nothing more.
    assert not notices.notify_unanswered(services, job, at=services.clock())
    assert len(fake_bot.fake.messages(CHAT)) == 1


def test_without_a_cut_off_reply_the_answer_is_a_new_message(
    services: Services, fake_bot: FakeBot
) -> None:
    job = _job(services)
    assert notices.notify_unanswered(services, job, at=services.clock())
    assert [m.text[:40] for m in fake_bot.fake.messages(CHAT)] == [
        "⚠️ Sorry, I could not answer your messag"
    ]


def test_a_dead_letter_of_a_deleted_conversation_is_dropped_quietly(
    services: Services, fake_bot: FakeBot
) -> None:
    job = _job(services)
    services.conversations.delete_conversation(USER, "main")
    assert not notices.notify_unanswered(services, job, at=services.clock())
    assert services.conversations.get_conversation(USER, "main") is None
    assert fake_bot.fake.messages(CHAT) == []
