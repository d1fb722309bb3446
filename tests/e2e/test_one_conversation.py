"""One conversation, consistent everywhere, through the public APIs of the whole local stack:
two sockets of one person and a Telegram chat see the same story; three questions list as
question/answer pairs; a conversation deleted while its reply streams stays deleted; a message
OpenClaw would refuse is refused at the door; the HTTP API's 401 has the documented shape.

The tests that need the agent share the worker's person (and so at most one agent cold start
with the e2e and browser tests beside them); the stack is the session's shared one."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SLOW = {"repeat_to": 900, "chunk_chars": 6, "delay_ms": 60.0}
"""About nine seconds of streaming."""


def new_id() -> str:
    return uuid.uuid4().hex


def tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def is_type(kind: str, message_id: str) -> Any:
    return lambda f: f.get("type") == kind and f.get("id") == message_id


async def wait_running(user: Any, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while (await asyncio.to_thread(user.agent))["state"] != "running":
        if time.monotonic() > deadline:
            raise AssertionError("the agent did not start")
        await asyncio.sleep(1)


@pytest.fixture(scope="module")
def person(shared_person: Any) -> Any:
    """The worker's shared person (tests/conftest.py), its agent woken for this module."""
    with shared_person.http() as http:
        http.post("/api/agent/start").raise_for_status()
    return shared_person


@pytest.fixture
async def awake(person: Any, dev_stack: Any) -> AsyncIterator[Any]:
    await wait_running(person)
    yield person
    dev_stack.offline_model().reset()


def telegram_say(stack: Any, chat: int, text: str) -> None:
    base = str(stack.info["telegram_api_base"])
    httpx.post(f"{base}/_fake/updates", json={"chatId": chat, "text": text}, timeout=10)
    httpx.post(f"{base}/_fake/deliver", timeout=60).raise_for_status()


def bot_texts(stack: Any, chat: int) -> list[str]:
    base = str(stack.info["telegram_api_base"])
    answer = httpx.get(f"{base}/_fake/messages", params={"chatId": chat}, timeout=10)
    return [str(m["text"]) for m in answer.json()]


# --- without the agent ------------------------------------------------------------------------
def test_the_rest_api_wants_a_bearer_id_token_and_says_401_in_the_documented_shape(
    dev_stack: Any,
) -> None:
    user = dev_stack.create_user()
    tokens = user.tokens()
    with httpx.Client(base_url=dev_stack.url, timeout=30) as http:
        ok = http.get("/api/settings", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
        assert ok.status_code == 200
        for authorization in (
            None,
            tokens["IdToken"],  # no scheme
            f"Bearer {tokens['AccessToken']}",  # the other token type
            "Bearer not-a-token",
        ):
            headers = {} if authorization is None else {"Authorization": authorization}
            refused = http.get("/api/settings", headers=headers)
            assert refused.status_code == 401, authorization
            assert refused.headers["www-authenticate"].startswith("Bearer")
            body = refused.json()
            assert list(body) == ["error"] and body["error"]["code"] == "unauthorized", body


async def test_a_message_with_a_nul_character_is_refused_at_the_door(dev_stack: Any) -> None:
    user = dev_stack.create_user()
    user.settings(wakeOnConnect=False)
    async with user.ws() as ws:
        message = new_id()
        await ws.send({"action": "send", "id": message, "text": "half\u0000half"})
        error = await ws.wait_for(is_type("error", message), 30)
        assert error["code"] == "invalid_request"
        assert "NUL character" in str(error["message"])
    assert user.messages() == []
    assert user.agent()["state"] == "idle", "nothing was queued, so nothing woke the agent"


# --- with the agent ---------------------------------------------------------------------------
async def test_two_sockets_and_a_telegram_chat_tell_one_story(awake: Any, dev_stack: Any) -> None:
    chat = 7_000_000 + uuid.uuid4().int % 1_000_000
    await asyncio.to_thread(awake.pair_telegram, chat)
    async with awake.ws() as first, awake.ws() as second:
        # A question from the first tab: the second shows it, then its reply, in that order.
        asked = new_id()
        text = f"from the first tab {tag()}"
        await first.send({"action": "send", "id": asked, "text": text})
        shown = await second.wait_for(is_type("message", asked), 30)
        assert (shown["text"], shown["source"], shown["conversationId"]) == (text, "web", "main")
        end = await second.reply_to(asked)
        kinds = [f["type"] for f in second.frames if f.get("id") == asked]
        assert kinds.index("message") < kinds.index("stream_start"), "question before reply"
        assert end == await first.reply_to(asked)

        # From Telegram: both tabs show the person's words, then the reply.
        phone = f"from my phone {tag()}"
        before = len(bot_texts(dev_stack, chat))
        await asyncio.to_thread(telegram_say, dev_stack, chat, phone)
        seen = []
        for tab in (first, second):
            frame = await tab.wait_for(
                lambda f: f.get("type") == "message" and f.get("text") == phone, 30
            )
            assert frame["source"] == "telegram"
            seen.append(frame)
            await tab.reply_to(str(frame["id"]))
        assert seen[0]["id"] == seen[1]["id"]

    # Telegram got the reply to its own message only.
    deadline = time.monotonic() + 30
    while not any(phone in t for t in bot_texts(dev_stack, chat)[before:]):
        assert time.monotonic() < deadline, bot_texts(dev_stack, chat)
        await asyncio.sleep(0.5)
    assert not any(text in t for t in bot_texts(dev_stack, chat))
    stored = [(m["role"], m["source"], m["text"]) for m in awake.messages()[-4:]]
    assert [(role, source) for role, source, _ in stored] == [
        ("user", "web"),
        ("assistant", "agent"),
        ("user", "telegram"),
        ("assistant", "agent"),
    ]
    assert stored[0][2] == text and stored[2][2] == phone


async def test_three_questions_back_to_back_list_as_pairs(awake: Any) -> None:
    conversation = f"pairs-{new_id()[:8]}"
    questions = [(new_id(), f"question {n} {tag()}") for n in range(3)]
    async with awake.ws() as ws:
        # No waiting for replies in between, only for each ack (docs/api.md: frames are handled
        # concurrently, so a client keeps its order by sending the next after the last ack).
        for message, text in questions:
            await ws.send(
                {"action": "send", "id": message, "conversationId": conversation, "text": text}
            )
            await ws.wait_for(is_type("ack", message), 30)
        for message, _ in questions:
            await ws.reply_to(message)
    listed = awake.messages(conversation)
    assert [(m["role"], m.get("inReplyTo")) for m in listed] == [
        pair for message, _ in questions for pair in (("user", None), ("assistant", message))
    ]
    assert [m["text"] for m in listed if m["role"] == "user"] == [t for _, t in questions]


async def test_a_conversation_deleted_while_its_reply_streams_stays_deleted(
    awake: Any, dev_stack: Any
) -> None:
    conversation = f"gone-{new_id()[:8]}"
    slow = tag()
    dev_stack.offline_model().script([{"match": slow, "times": 1, **SLOW}])
    async with awake.ws() as ws:
        message = new_id()
        await ws.send(
            {
                "action": "send",
                "id": message,
                "conversationId": conversation,
                "text": f"a long answer please {slow}",
            }
        )
        await ws.wait_for(is_type("stream_chunk", message), 120)
        with awake.http() as http:
            assert http.delete(f"/api/conversations/{conversation}").status_code == 204
        await ws.reply_to(message, 120)  # the reply lands after the deletion ...
        # ... and a late retry of the question (a resend by a reconnecting page) too.
        await ws.send(
            {"action": "send", "id": message, "conversationId": conversation, "text": "again"}
        )
        await ws.wait_for(lambda f: f.get("id") == message and f.get("type") in ("ack", "error"))
    await asyncio.sleep(2)  # what the agent does after its reply (store, acknowledge)
    with awake.http() as http:
        assert http.get(f"/api/conversations/{conversation}").status_code == 404
        assert http.get(f"/api/conversations/{conversation}/messages").status_code == 404
        listed = http.get("/api/conversations").json()["items"]
    assert conversation not in [c["id"] for c in listed]
