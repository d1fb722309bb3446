"""A Telegram reply cut off by a crash: the next attempt edits the cut-off message into the
full reply, so the person never reads the start twice. The bridge on the memory adapters, the
fake gateway, and the fake Bot API in process (its ASGI app, no socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from serverless_openclaw.agent.openclaw.fake import Stall
from serverless_openclaw.contracts.jobs import ChatJob, TelegramReplyTo
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from serverless_openclaw.telegram.bot_api import AsyncBotApi
from serverless_openclaw.telegram.streaming import ShownReply

from .conftest import USER, BridgeRig, until

CHAT = 777_001


@pytest.fixture
async def telegram(rig: BridgeRig) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token=DEFAULT_TOKEN, clock=rig.clock.monotonic)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    rig.telegram = AsyncBotApi(DEFAULT_TOKEN, base_url="http://telegram.test", client=client)
    yield fake
    await rig.stop()  # before the client goes: a reply may still be on its way
    await client.aclose()


def from_telegram(rig: BridgeRig, text: str) -> ChatJob:
    job = ChatJob(
        jobId="tg-00042",
        userId=USER,
        source="telegram",
        conversationId="main",
        text=text,
        replyTo=TelegramReplyTo(chatId=CHAT, messageId=5),
        receivedAt=rig.clock.now(),
    )
    rig.ports.inbox().send(job)
    return job


async def test_a_gateway_crash_mid_reply_leaves_one_complete_message_in_telegram(
    rig: BridgeRig, telegram: FakeTelegram
) -> None:
    rig.gateway.script("story", Stall(partial="Once upon a time"))
    rig.start()
    job = from_telegram(rig, "tell me a story")
    await until(lambda: telegram.texts(CHAT), what="the start of the reply in Telegram")
    [cut_off] = telegram.messages(CHAT)
    recorded = ShownReply(job.jobId, CHAT, (cut_off.message_id,))
    await until(
        lambda: ShownReply.decode(rig.ports.task_state().get(USER).telegram_reply) == recorded,
        what="the message recorded in the task-state row",
    )

    rig.gateway.crash()  # mid-reply; the supervisor's monitor brings it back
    await rig.gateway.boot()
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert telegram.texts(CHAT) == [reply.text], "one message, the whole reply"
    [shown] = telegram.messages(CHAT)
    assert shown.message_id == cut_off.message_id, "the cut-off message became the reply"
    assert shown.edits >= 1
    assert len(telegram.calls("sendMessage")) == 1


async def test_a_reply_to_another_job_does_not_touch_an_earlier_jobs_messages(
    rig: BridgeRig, telegram: FakeTelegram
) -> None:
    rig.ports.task_state().set_telegram_reply(
        USER, rig.launch_id, ShownReply("tg-00001", CHAT, (999,)).encode()
    )
    rig.start()
    job = from_telegram(rig, "hello")
    reply = await rig.answered(job)

    async def shown() -> bool:
        await rig.clock.advance(1.0)  # Telegram's pace between edits
        return telegram.texts(CHAT) == [reply.text]

    await until(shown, what="the reply in Telegram")
    [message] = telegram.messages(CHAT)
    assert message.message_id != 999
    assert all(call.params["message_id"] != 999 for call in telegram.calls("editMessageText"))
    assert telegram.calls("deleteMessage") == []
