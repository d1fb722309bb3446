"""A reply streaming into Telegram when OpenClaw's gateway dies: the person never reads the
start twice. The bot's cut-off message is edited into the full reply by the next attempt
(shared dev stack, real OpenClaw, the fake Bot API, which records every edit)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import httpx
import pytest

from .conftest import agent_status, history, token, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

SLOW = {"repeat_to": 900, "chunk_chars": 6, "delay_ms": 100.0}
"""About fifteen seconds of streaming."""


def _fake(stack: Any) -> str:
    return str(stack.info["telegram_api_base"])


def _say(stack: Any, chat: int, text: str) -> dict[str, Any]:
    update = httpx.post(
        f"{_fake(stack)}/_fake/updates", json={"chatId": chat, "text": text}, timeout=10
    ).json()
    httpx.post(f"{_fake(stack)}/_fake/deliver", timeout=60).raise_for_status()
    return dict(update)


def _bot_messages(stack: Any, chat: int) -> list[dict[str, Any]]:
    answer = httpx.get(f"{_fake(stack)}/_fake/messages", params={"chatId": chat}, timeout=10)
    return list(answer.json())


async def test_gateway_killed_mid_telegram_reply_leaves_one_complete_message(
    dev_stack, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=30)
    user.settings(wakeOnConnect=False)
    chat = 8_200_000 + uuid.uuid4().int % 100_000
    await asyncio.to_thread(user.pair_telegram, chat)
    with user.http() as http:
        http.post("/api/agent/start").raise_for_status()
    await wait_until(lambda: user.agent()["state"] == "running", 240, "agent running")

    slow = token()
    text = f"a long one for my phone {slow}"
    model.script([{"match": slow, "times": 1, **SLOW}])
    before = len(_bot_messages(dev_stack, chat))
    update = await asyncio.to_thread(_say, dev_stack, chat, text)
    job_id = f"tg-{update['update_id']:05d}"
    account.sent(job_id, text)

    def streaming() -> list[dict[str, Any]]:
        return [
            m
            for m in _bot_messages(dev_stack, chat)[before:]
            if "offline model" in str(m["text"]) and len(str(m["text"])) >= 40
        ]

    [cut_off] = await wait_until(streaming, 240, "the reply streaming into Telegram", 0.2)
    agent = dev_stack.agent_process(user)
    status = await asyncio.to_thread(agent_status, agent)
    killed = time.monotonic()
    os.killpg(int(status["gatewayPid"]), signal.SIGKILL)

    reply = await wait_until(
        lambda: next((m for m in user.messages() if m.get("inReplyTo") == job_id), None),
        240,
        "the stored reply",
    )
    figure("telegram_gateway_crash_to_reply_s", time.monotonic() - killed)

    def settled() -> list[dict[str, Any]] | None:
        shown = [m for m in _bot_messages(dev_stack, chat)[before:] if "offline model" in m["text"]]
        return shown if shown and shown[-1]["text"] == reply["text"] else None

    shown = await wait_until(settled, 60, "the reply complete in Telegram")
    await asyncio.sleep(3)  # anything still on its way (a second message) would show by now
    shown = [m for m in _bot_messages(dev_stack, chat)[before:] if "offline model" in m["text"]]
    assert len(shown) == 1, ("one message, not a cut-off copy beside the full one", shown)
    assert shown[0]["messageId"] == cut_off["messageId"], "the cut-off message became the reply"
    assert shown[0]["text"] == reply["text"]
    assert int(shown[0]["edits"]) >= 1
    account.settle(history(user))
    with user.http() as http:
        http.post("/api/agent/stop")
