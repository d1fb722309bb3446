"""The whole product on one machine, driven only through its public WebSocket and HTTP APIs:
Cognito sign-in -> API Gateway emulator -> Lambda handlers -> inbox -> real agent task ->
real OpenClaw -> @connections -> this test's socket."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from tests.media_samples import png

from .test_attachments_flow import ask, fetch, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def new_id() -> str:
    return uuid.uuid4().hex


async def cold_start_turns(user, figure, first_text: str) -> None:  # type: ignore[no-untyped-def]
    """A message to a sleeping agent (wake on open off, so the cold start counts from "send"):
    acknowledged at once, the start's phases shown, the reply streamed; a second message sent
    while the agent starts is answered after it without resending; then a turn on the running
    agent, and all three listed in the history, in order."""
    user.settings(wakeOnConnect=False)
    async with user.ws() as ws:
        await ws.send({"action": "status"})
        status = await ws.wait_for(lambda f: f.get("type") == "status")
        assert status["agent"] == "idle"
        message = new_id()
        sent = time.monotonic()
        await ws.send({"action": "send", "id": message, "text": first_text})
        ack = await ws.wait_for(lambda f: f.get("type") == "ack")
        assert ack == {"type": "ack", "id": message, "conversationId": "main"}
        await ws.wait_for(lambda f: f.get("type") == "status" and f.get("agent") == "starting")
        meanwhile = new_id()
        await ws.send({"action": "send", "id": meanwhile, "text": WHILE_WAKING})
        await ws.wait_for(lambda f: f.get("type") == "ack" and f.get("id") == meanwhile)
        await ws.wait_for(lambda f: f.get("type") == "stream_chunk" and f.get("id") == message)
        figure("idle_send_to_first_text_s", time.monotonic() - sent)
        end = await ws.reply_to(message)
        assert end["text"] == f"[offline model] You said: {first_text}"
        assert (await ws.reply_to(meanwhile))["text"].endswith(WHILE_WAKING)
        order = [f["id"] for f in ws.frames if f.get("type") == "stream_end"]
        assert order == [message, meanwhile], "answered in the order sent"
        phases = [f.get("phase") for f in ws.frames if f.get("agent") == "starting"]
        assert "starting OpenClaw" in phases, phases
        states = [f["agent"] for f in ws.frames if f.get("type") == "status"]
        assert states.index("starting") < states.index("running")
        assert "".join(ws.chunks(message)) == end["text"]

        # A second turn on the running agent.
        second = new_id()
        sent = time.monotonic()
        await ws.send({"action": "send", "id": second, "text": "and again"})
        await ws.wait_for(lambda f: f.get("type") == "stream_chunk" and f.get("id") == second)
        figure("running_send_to_first_text_s", time.monotonic() - sent)
        await ws.reply_to(second)

    with user.http() as http:
        conversations = http.get("/api/conversations").json()["items"]
        assert [c["id"] for c in conversations] == ["main"]
        messages = http.get("/api/conversations/main/messages").json()["items"]
    assert [(m["role"], m["text"]) for m in messages] == first_turns(first_text)


WHILE_WAKING = "sent while you were waking"


def first_turns(first_text: str) -> list[tuple[str, str]]:
    """The history of `cold_start_turns`, as (role, text)."""
    return [
        ("user", first_text),
        ("assistant", f"[offline model] You said: {first_text}"),
        ("user", WHILE_WAKING),
        ("assistant", f"[offline model] You said: {WHILE_WAKING}"),
        ("user", "and again"),
        ("assistant", "[offline model] You said: and again"),
    ]


async def ask_what_i_said(user) -> str:  # type: ignore[no-untyped-def]
    """The agent's answer to "what did I say before?" (the offline model reads its memory)."""
    async with user.ws() as ws:
        question = new_id()
        await ws.send({"action": "send", "id": question, "text": "what did I say before?"})
        end = await ws.reply_to(question)
    return str(end["text"])


async def test_cold_start_then_a_stop_and_a_restart_keep_history_settings_and_memory(
    fresh_dev_stack, figure, request
) -> None:  # type: ignore[no-untyped-def]
    """One person's agent from a cold start to a second cold start on a restarted stack: the
    person stops the agent (it backs up on its way down), the dev command is stopped and run
    again, and the history (with a picture sent before), the settings and the agent's memory
    are all still there.

    The watchdog's idle stop is proven end to end on the aws backend (test_aws_backend.py,
    with the watchdog's own IAM role), and decided by `core/wake.py` (unit tests): here the
    person's stop button does it, without a minute of waiting."""
    if fresh_dev_stack.backend == "aws":
        # Seen 2026-11-30: after a restart the aws backend's moto has the state bucket but
        # none of its objects (tables, users and the bucket survive), so neither the picture
        # nor the backup does. Not ours to fix here: strict, so the day it works this goes.
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="the aws dev backend loses S3 objects")
        )
    user = fresh_dev_stack.create_user(idle_minutes=30)
    await cold_start_turns(user, figure, "my cat is called Miso")
    picture = png(10, 10)
    photo = await asyncio.to_thread(upload, user, "small.png", picture, "image/png")
    end = await ask(user, "keep this", [photo["id"]])
    assert "10x10 pixels" in str(end["text"])
    with user.http() as client:
        client.post("/api/agent/stop").raise_for_status()
    stopped = await user.wait_state("idle", timeout=120)
    assert stopped["lastBackupAt"], "the agent backed its state up before stopping"

    await asyncio.to_thread(fresh_dev_stack.restart)
    # Same email and password, a new sign-in against the restored local identity.
    history = user.messages()
    texts = [(m["role"], m["text"]) for m in history]
    assert texts[:-2] == first_turns("my cat is called Miso")
    assert texts[-2:] == [("user", "keep this"), ("assistant", end["text"])]
    assert history[-2]["attachments"] == [photo]
    fetched = await asyncio.to_thread(fetch, user, photo["id"])
    assert fetched.content == picture, "the picture's bytes came back too"
    assert user.settings()["wakeOnConnect"] is False, "settings came back too"
    answer = await ask_what_i_said(user)
    assert "Miso" in answer, fresh_dev_stack.task_log(user)


@pytest.fixture
def alice(shared_person):  # type: ignore[no-untyped-def]
    """The worker's shared person (tests/conftest.py): when its agent already runs, one cold
    start fewer; either way the two agents are separate tasks."""
    return shared_person


async def test_two_users_get_separate_agents_and_never_see_each_other(dev_stack, alice) -> None:  # type: ignore[no-untyped-def]
    bob = dev_stack.create_user(idle_minutes=1)
    async with alice.ws() as a, bob.ws() as b:
        ma, mb = new_id(), new_id()
        await asyncio.gather(
            a.send({"action": "send", "id": ma, "text": "alice's secret plan"}),
            b.send({"action": "send", "id": mb, "text": "bob's grocery list"}),
        )
        end_a, end_b = await asyncio.gather(a.reply_to(ma), b.reply_to(mb))
    assert end_a["text"].endswith("alice's secret plan")
    assert end_b["text"].endswith("bob's grocery list")
    assert not any("bob" in str(f) for f in a.frames)
    assert not any("alice" in str(f) for f in b.frames)
    agents = alice.agent(), bob.agent()
    assert all(agent["state"] == "running" for agent in agents)
    arns = {user.user_id: dev_stack.task_row(user).get("taskArn") for user in (alice, bob)}
    assert len(set(arns.values())) == 2 and None not in arns.values()
