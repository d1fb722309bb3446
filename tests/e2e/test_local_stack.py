"""The whole product on one machine, driven only through its public WebSocket and HTTP APIs:
Cognito sign-in -> API Gateway emulator -> Lambda handlers -> inbox -> real agent task ->
real OpenClaw -> @connections -> this test's socket."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def new_id() -> str:
    return uuid.uuid4().hex


async def test_cold_start_streams_reply_and_history_is_listed(dev_stack, figure) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=1)
    user.settings(wakeOnConnect=False)  # measure the cold start from "send"
    async with user.ws() as ws:
        await ws.send({"action": "status"})
        status = await ws.wait_for(lambda f: f.get("type") == "status")
        assert status["agent"] == "idle"
        message = new_id()
        sent = time.monotonic()
        await ws.send({"action": "send", "id": message, "text": "hello"})
        ack = await ws.wait_for(lambda f: f.get("type") == "ack")
        assert ack == {"type": "ack", "id": message, "conversationId": "main"}
        await ws.wait_for(lambda f: f.get("type") == "stream_chunk" and f.get("id") == message)
        figure("idle_send_to_first_text_s", time.monotonic() - sent)
        end = await ws.reply_to(message)
        assert end["text"] == "[offline model] You said: hello"
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
    assert [(m["role"], m["text"]) for m in messages] == [
        ("user", "hello"),
        ("assistant", "[offline model] You said: hello"),
        ("user", "and again"),
        ("assistant", "[offline model] You said: and again"),
    ]


async def test_idle_agent_stops_and_remembers_after_cold_start(dev_stack) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=1)
    async with user.ws() as ws:
        first = new_id()
        await ws.send({"action": "send", "id": first, "text": "my cat is called Miso"})
        await ws.reply_to(first)
    stopped = await user.wait_state("idle", timeout=240)
    assert stopped["lastBackupAt"], "the agent backed its state up before stopping"
    async with user.ws() as ws:
        second = new_id()
        await ws.send({"action": "send", "id": second, "text": "what did I say before?"})
        end = await ws.reply_to(second)
    assert "Miso" in str(end["text"]), dev_stack.task_log(user)


async def test_two_users_get_separate_agents_and_never_see_each_other(dev_stack) -> None:  # type: ignore[no-untyped-def]
    alice, bob = dev_stack.create_user(idle_minutes=1), dev_stack.create_user(idle_minutes=1)
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


async def test_message_sent_during_cold_start_is_answered_without_resending(dev_stack) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=1)
    user.settings(wakeOnConnect=False)
    async with user.ws() as ws:
        first, second = new_id(), new_id()
        await ws.send({"action": "send", "id": first, "text": "first while asleep"})
        await ws.wait_for(lambda f: f.get("type") == "status" and f.get("agent") == "starting")
        await ws.send({"action": "send", "id": second, "text": "second while waking"})
        await ws.wait_for(lambda f: f.get("type") == "ack" and f.get("id") == second)
        end_first = await ws.reply_to(first)
        end_second = await ws.reply_to(second)
    assert end_first["text"].endswith("first while asleep")
    assert end_second["text"].endswith("second while waking")
    order = [f["id"] for f in ws.frames if f.get("type") == "stream_end"]
    assert order == [first, second]


async def test_history_survives_a_restart_of_the_dev_command(fresh_dev_stack) -> None:  # type: ignore[no-untyped-def]
    user = fresh_dev_stack.create_user(idle_minutes=1)
    user.settings(wakeOnConnect=False)
    async with user.ws() as ws:
        message = new_id()
        await ws.send({"action": "send", "id": message, "text": "remember this across restarts"})
        await ws.reply_to(message)
    await asyncio.to_thread(fresh_dev_stack.restart)
    # Same email and password, a new sign-in against the restored local Cognito.
    texts = [m["text"] for m in user.messages()]
    assert texts == [
        "remember this across restarts",
        "[offline model] You said: remember this across restarts",
    ]
    assert user.settings()["wakeOnConnect"] is False, "settings came back too"
