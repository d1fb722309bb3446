"""Telegram end to end: pairing from the web app, then a message to the sleeping agent through
the webhook, the real agent and the Bot API (the local fake): a wake-up notice, "typing…" until
the reply (the supervisor repeats it while no agent runs yet, the bridge's reply after that),
and the reply streamed into one Telegram message. The web's status banner is covered by the
browser tests."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TYPING_LASTS_S = 5.0
"""Telegram shows a chat action for about 5 s, or until the bot sends a message."""


def telegram(stack) -> str:  # type: ignore[no-untyped-def]
    return str(stack.info["telegram_api_base"])


def say(stack, chat: int, text: str) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{telegram(stack)}/_fake/updates", json={"chatId": chat, "text": text})
    httpx.post(f"{telegram(stack)}/_fake/deliver", timeout=60).raise_for_status()


def bot_messages(stack, chat: int) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return list(httpx.get(f"{telegram(stack)}/_fake/messages", params={"chatId": chat}).json())


def calls(stack, chat: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every Bot API call the product made for `chat`, in order, with its time (`at`)."""
    made = httpx.get(f"{telegram(stack)}/_fake/calls", timeout=10).json()
    return [c for c in made if int(c["params"].get("chat_id", 0)) == chat]


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

    deadline = time.monotonic() + 600  # OpenClaw took 200 s to ready at a load of 24
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

    typing_until_the_reply(dev_stack, chat)

    history = user.messages()
    assert [(m["role"], m["source"]) for m in history] == [
        ("user", "telegram"),
        ("assistant", "agent"),
    ]
    assert marker in str(history[0]["text"])
    user.stop_agent()  # its own only: the worker's shared person (tests/conftest.py) stays awake


def typing_until_the_reply(stack, chat: int) -> None:  # type: ignore[no-untyped-def]
    """From the task's first "typing…" to the reply the chat never went quiet for longer than
    typing lasts (plus a little for a loaded test machine). Before it, between the notice and
    the task's first call, nothing repeats it: that is the task's launch (seconds here; on
    Fargate the image pull and the ENI too, docs/performance.md), and the notice itself is
    the last sign of life."""
    in_chat = calls(stack, chat)
    sent = [c for c in in_chat if c["method"] == "sendMessage"]
    waking = next(float(c["at"]) for c in sent if "waking" in str(c["params"]["text"]).lower())
    # The reply's first piece is the first message after the notice (it grows by edits).
    reply = next(float(c["at"]) for c in sent if float(c["at"]) > waking)
    typing = [
        float(c["at"])
        for c in in_chat
        if c["method"] == "sendChatAction" and waking <= float(c["at"]) <= reply
    ]
    assert len(typing) >= 2, f"the start took {reply - waking:.1f} s and typing showed {typing}"
    gaps = [b - a for a, b in itertools.pairwise([*typing, reply])]
    assert max(gaps) <= TYPING_LASTS_S + 1.5, gaps
