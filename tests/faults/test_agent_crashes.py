"""The agent task dies or is stopped in the middle of a reply, or its OpenClaw gateway dies
while a reply streams to the web or into Telegram (shared dev stack, real OpenClaw, offline
model scripted to reply slowly so that the fault lands mid-stream, the fake Bot API).

One person goes through every fault of this module, each test starting from their agent
awake (the task the last fault left running, or one woken for the test): a fault's proof is
what happens after it, not the cold start before it, and each cold start costs ~17 CPU-s of a
2-core machine. Launches are counted from the test's start, the ledger counts this test's
messages (each carries a token of its own) and memory probes look for this test's texts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import pytest

from .conftest import (
    agent_status,
    alive,
    ask_what_i_said,
    awake,
    bot_messages,
    history,
    is_end,
    kill_task,
    launches,
    processes_in,
    send,
    telegram_say,
    token,
    wait_chunks,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

SLOW = {"repeat_to": 600, "chunk_chars": 6, "delay_ms": 100.0}
"""About ten seconds of streaming."""

SLOW_FOR_TELEGRAM = {"repeat_to": 900, "chunk_chars": 6, "delay_ms": 100.0}
"""About fifteen seconds of streaming: Telegram's edits are throttled, so the kill must come
well after the first one."""


async def test_kill9_mid_reply_the_next_task_answers_once_and_remembers(
    dev_stack, person, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    user = person
    before = await awake(dev_stack, user)
    first = f"my cat is called Miso {token()}"
    slow = token()
    second = f"tell me a long story about {slow}"
    async with user.ws() as ws:
        m1 = await send(ws, account, first)
        await ws.reply_to(m1)
        # What the agent learnt is backed up after the turn (debounced).
        answered_at = time.time()
        await wait_until(
            lambda: (
                (row := user.agent()).get("lastBackupAt")
                and _epoch(row["lastBackupAt"]) >= answered_at - 1
            ),
            60,
            "backup after the first turn",
        )
        agent = dev_stack.agent_process(user)
        work = dev_stack.agent_work_dir(user)
        model.script([{"match": slow, "times": 1, **SLOW}])
        m2 = await send(ws, account, second)
        await wait_chunks(ws, m2, 3)
        killed = time.monotonic()
        kill_task(int(agent["pid"]))
        end = await ws.wait_for(is_end(m2), 300)
        figure("kill9_to_reply_s", time.monotonic() - killed)
        assert end["text"].endswith(second), "answered by the next task, without the script"
        remembered = await ask_what_i_said(ws)
    assert first in remembered, (remembered, dev_stack.task_log(user))
    tasks = launches(dev_stack, user)[before:]
    assert len(tasks) == 1, "one restart for the job the dead task left behind"
    assert not [p.pid for p in processes_in(work) if p.is_running()], (
        "nothing of the killed task may live on (a container takes all its processes along)"
    )
    account.settle(history(user), [ws.frames], remembered=remembered)


async def test_sigterm_mid_reply_finishes_the_turn_syncs_and_exits(
    dev_stack, person, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    """A Spot interruption notice during a reply that can finish within the drain bound."""
    user = person
    before = await awake(dev_stack, user)
    slow = token()
    text = f"please explain {slow}"
    async with user.ws() as ws:
        model.script([{"match": slow, **SLOW}])
        m1 = await send(ws, account, text)
        await wait_chunks(ws, m1, 3)
        agent = dev_stack.agent_process(user)
        pid = int(agent["pid"])
        signalled, signalled_wall = time.monotonic(), time.time()
        os.kill(pid, signal.SIGTERM)
        end = await ws.wait_for(is_end(m1), 120)
        assert len(end["text"]) == SLOW["repeat_to"], "the running turn was let finish"
        await wait_until(lambda: not alive(pid), 120, "the agent exits")
        exit_s = time.monotonic() - signalled
        figure("sigterm_finish_exit_s", exit_s)
        stopped = await user.wait_state("idle", 30)
        assert stopped["lastBackupAt"] and _epoch(stopped["lastBackupAt"]) >= signalled_wall
        assert not stopped.get("lastError"), stopped
        states = [f["agent"] for f in ws.frames if f.get("type") == "status"]
        assert "stopping" in states, "the browser was told"
        # The next task restores what the stopped one synced on its way out.
        remembered = await ask_what_i_said(ws)
    assert exit_s < 90, f"exit took {exit_s:.1f} s; ECS kills at 120 s"
    assert text in remembered, (remembered, dev_stack.task_log(user))
    assert len(launches(dev_stack, user)) - before == 1, "the next message started a new task"
    account.settle(history(user), [ws.frames], remembered=remembered)


async def test_sigterm_during_a_stalled_reply_hands_the_job_to_the_next_task(
    dev_stack, person, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    """The turn cannot finish within the drain bound: its job goes back to the inbox, the task
    exits inside ECS's stopTimeout, and the next task answers it (and a message sent while
    the agent was stopping) exactly once."""
    user = person
    before = await awake(dev_stack, user)
    stall = token()
    first = f"this one will stall {stall}"
    second = f"and this one arrives while it stops {token()}"
    async with user.ws() as ws:
        model.script([{"match": stall, "times": 1, "stall_after_chunks": 3, "chunk_chars": 4}])
        m1 = await send(ws, account, first)
        await wait_chunks(ws, m1, 1)
        agent = dev_stack.agent_process(user)
        pid = int(agent["pid"])
        signalled = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        await user.wait_state("stopping", 30)
        m2 = await send(ws, account, second)
        await wait_until(lambda: not alive(pid), 150, "the agent exits")
        exit_s = time.monotonic() - signalled
        figure("sigterm_stalled_exit_s", exit_s)
        end1 = await ws.wait_for(is_end(m1), 300)
        end2 = await ws.wait_for(is_end(m2), 300)
        figure("sigterm_stalled_to_reply_s", time.monotonic() - signalled)
        remembered = await ask_what_i_said(ws)
    assert exit_s < 110, f"exit took {exit_s:.1f} s; ECS kills at 120 s"
    account.settle(history(user), [ws.frames], remembered=remembered)
    assert end1["text"].endswith(first) and end2["text"].endswith(second)
    order = [f["id"] for f in ws.frames if f.get("type") == "stream_end"]
    assert order[:2] == [m1, m2]
    assert len(launches(dev_stack, user)) - before == 1, "the next task took the job"


async def test_openclaw_gateway_crash_mid_reply_is_restarted_and_answers_once(
    dev_stack, person, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    user = person
    launched = await awake(dev_stack, user)
    slow = token()
    text = f"a question for the gateway {slow}"
    async with user.ws() as ws:
        model.script([{"match": slow, "times": 1, **SLOW}])
        m1 = await send(ws, account, text)
        await wait_chunks(ws, m1, 3)
        agent = dev_stack.agent_process(user)
        before = await asyncio.to_thread(agent_status, agent)
        crashed = time.monotonic()
        os.killpg(int(before["gatewayPid"]), signal.SIGKILL)
        end = await ws.wait_for(is_end(m1), 240)
        figure("gateway_crash_to_reply_s", time.monotonic() - crashed)
        after = await asyncio.to_thread(agent_status, agent)
        remembered = await ask_what_i_said(ws)
    assert after["gatewayRestarts"] == before["gatewayRestarts"] + 1
    assert after["gatewayPid"] != before["gatewayPid"]
    assert len(launches(dev_stack, user)) == launched, "the task itself survived"
    account.settle(history(user), [ws.frames], remembered=remembered)
    assert end["text"].endswith(text)


async def test_gateway_killed_mid_telegram_reply_leaves_one_complete_message(
    dev_stack, person, model, account, figure
) -> None:  # type: ignore[no-untyped-def]
    """A reply streaming into Telegram when OpenClaw's gateway dies: the person never reads
    the start twice. The bot's cut-off message is edited into the full reply by the next
    attempt (the fake Bot API records every edit)."""
    user = person
    launched = await awake(dev_stack, user)
    chat = 8_200_000 + uuid.uuid4().int % 100_000
    await asyncio.to_thread(user.pair_telegram, chat)

    slow = token()
    text = f"a long one for my phone {slow}"
    model.script([{"match": slow, "times": 1, **SLOW_FOR_TELEGRAM}])
    before = len(bot_messages(dev_stack, chat))
    update = await asyncio.to_thread(telegram_say, dev_stack, chat, text)
    job_id = f"tg-{update['update_id']:05d}"
    account.sent(job_id, text)

    def streaming() -> list[dict[str, Any]]:
        return [
            m
            for m in bot_messages(dev_stack, chat)[before:]
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
        shown = [m for m in bot_messages(dev_stack, chat)[before:] if "offline model" in m["text"]]
        return shown if shown and shown[-1]["text"] == reply["text"] else None

    shown = await wait_until(settled, 60, "the reply complete in Telegram")
    await asyncio.sleep(3)  # anything still on its way (a second message) would show by now
    shown = [m for m in bot_messages(dev_stack, chat)[before:] if "offline model" in m["text"]]
    assert len(shown) == 1, ("one message, not a cut-off copy beside the full one", shown)
    assert shown[0]["messageId"] == cut_off["messageId"], "the cut-off message became the reply"
    assert shown[0]["text"] == reply["text"]
    assert int(shown[0]["edits"]) >= 1
    assert len(launches(dev_stack, user)) == launched, "the task itself survived"
    account.settle(history(user))


def _epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()
