"""While an agent wakes, every channel shows life: in Telegram, "typing…" from the wake-up
notice until the reply (the supervisor repeats it while no agent runs yet, the bridge's reply
after that). The web's status banner is covered by the browser tests."""

from __future__ import annotations

import itertools
import time
import uuid

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


def calls(stack) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return list(httpx.get(f"{telegram(stack)}/_fake/calls", timeout=10).json())


def test_a_telegram_message_to_a_sleeping_agent_shows_typing_until_the_reply(dev_stack) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=1)
    user.settings(wakeOnConnect=False)
    chat = 9000 + uuid.uuid4().int % 1000
    with user.http() as http:
        code = http.post("/api/telegram/pairing-code").json()["code"]
    say(dev_stack, chat, f"/pair {code}")
    assert dev_stack.task_row(user).get("state", "idle") == "idle"

    marker = f"wake-{uuid.uuid4().hex[:6]}"
    say(dev_stack, chat, f"are you awake {marker}")
    deadline = time.monotonic() + 600  # OpenClaw took 200 s to ready at a load of 24
    while time.monotonic() < deadline:
        if any(m["role"] == "assistant" for m in user.messages()):
            break
        time.sleep(1)
    else:
        raise AssertionError(dev_stack.task_log(user))
    time.sleep(1)  # the reply's last Telegram call lands right after it is stored

    in_chat = [c for c in calls(dev_stack) if int(c["params"].get("chat_id", 0)) == chat]  # type: ignore[union-attr, call-overload]
    sent = [c for c in in_chat if c["method"] == "sendMessage"]
    waking = next(float(c["at"]) for c in sent if "waking" in str(c["params"]["text"]).lower())  # type: ignore[index]
    # The reply's first piece is the first message after the notice (it grows by edits).
    reply = next(float(c["at"]) for c in sent if float(c["at"]) > waking)  # type: ignore[arg-type]
    typing = [
        float(c["at"])  # type: ignore[arg-type]
        for c in in_chat
        if c["method"] == "sendChatAction" and waking <= float(c["at"]) <= reply  # type: ignore[arg-type]
    ]
    assert len(typing) >= 2, f"the start took {reply - waking:.1f} s and typing showed {typing}"
    # From the task's first "typing…" to the reply the chat never went quiet for longer than
    # typing lasts (plus a little for a loaded test machine). Before it, between the notice and
    # the task's first call, nothing repeats it: that is the task's launch (seconds here; on
    # Fargate the image pull and the ENI too, docs/performance.md), and the notice itself is
    # the last sign of life.
    moments = [*typing, reply]
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert max(gaps) <= TYPING_LASTS_S + 1.5, gaps
