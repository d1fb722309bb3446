"""Telegram end to end: pairing from the web app, then a message through the webhook, the
real agent and the Bot API (the local fake), streamed into one Telegram message."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def telegram(stack) -> str:  # type: ignore[no-untyped-def]
    return str(stack.info["telegram_api_base"])


def say(stack, chat: int, text: str) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{telegram(stack)}/_fake/updates", json={"chatId": chat, "text": text})
    httpx.post(f"{telegram(stack)}/_fake/deliver", timeout=60).raise_for_status()


def bot_messages(stack, chat: int) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return list(httpx.get(f"{telegram(stack)}/_fake/messages", params={"chatId": chat}).json())


def test_pairing_then_a_streamed_reply_in_telegram_and_the_web_history(dev_stack) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=1)
    user.settings(wakeOnConnect=False)
    chat = 8000 + uuid.uuid4().int % 1000

    say(dev_stack, chat, "hello?")  # not paired yet: instructions, no agent
    assert "pair" in str(bot_messages(dev_stack, chat)[-1]["text"]).lower()
    assert dev_stack.task_row(user).get("state", "idle") == "idle"

    with user.http() as http:
        code = http.post("/api/telegram/pairing-code").json()["code"]
    say(dev_stack, chat, f"/pair {code}")
    with user.http() as http:
        link = http.get("/api/telegram").json()
    assert link["chatId"] == chat

    marker = f"tg-{uuid.uuid4().hex[:6]}"
    dev_stack.offline_model().script(
        [{"match": marker, "repeat_to": 600, "chunk_chars": 6, "delay_ms": 20}]
    )
    sent_before = len(bot_messages(dev_stack, chat))
    say(dev_stack, chat, f"tell me something {marker}")
    messages = bot_messages(dev_stack, chat)[sent_before:]
    assert any("waking" in str(m["text"]).lower() for m in messages), messages

    deadline = time.monotonic() + 240
    reply = None
    while time.monotonic() < deadline:
        stored = [m for m in user.messages() if m["role"] == "assistant"]
        if stored:
            reply = stored[-1]
            break
        time.sleep(1)
    assert reply is not None, dev_stack.task_log(user)
    # The reply is stored first; the last edit reaches Telegram right after (paced edits).
    answer: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        answer = [
            m
            for m in bot_messages(dev_stack, chat)[sent_before:]
            if "offline model" in str(m["text"])
        ]
        if answer and answer[0]["text"] == reply["text"]:
            break
        time.sleep(0.5)
    assert len(answer) == 1, "one Telegram message grew with the reply"
    assert answer[0]["text"] == reply["text"], "its final text is the stored reply"
    assert int(answer[0]["edits"]) >= 1, "it was edited while streaming"  # type: ignore[call-overload]

    history = user.messages()
    assert [(m["role"], m["source"]) for m in history] == [
        ("user", "telegram"),
        ("assistant", "agent"),
    ]
    assert marker in str(history[0]["text"])
    dev_stack.stop_agents()
