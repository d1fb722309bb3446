"""SIGKILL of the whole local stack (the dev command's process group) in the middle of a reply
with three more messages queued behind it, then the same command again: what the product
promised to keep must still be there.

- every acknowledged message is answered exactly once, no reply is duplicated;
- the agent remembers what it was told before the crash (its OpenClaw state comes back from
  the backup, not a fresh one);
- nothing of the killed stack lives on (agents and their gateways run in sessions of their
  own: only dying with the stack takes them along).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from harness import DevStackProcess

from .conftest import alive, ask_what_i_said, history, send, token, wait_chunks, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

SLOW = {"repeat_to": 600, "chunk_chars": 6, "delay_ms": 100.0}
"""About ten seconds of streaming: the kill lands mid-reply."""


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_sigkill_of_the_whole_local_stack_mid_reply_with_three_queued_messages(
    tmp_path: Any, openclaw_runtime: Any, account: Any, figure: Any
) -> None:
    stack = DevStackProcess(tmp_path / "state")
    await asyncio.to_thread(stack.start)
    try:
        user = stack.create_user(idle_minutes=30)
        user.settings(wakeOnConnect=False)
        first = f"my cat is called Miso {token()}"
        slow = token()
        async with user.ws() as ws:
            m1 = await send(ws, account, first)
            await ws.reply_to(m1)
            answered_at = time.time()
            await wait_until(
                lambda: (
                    (row := user.agent()).get("lastBackupAt")
                    and _epoch(str(row["lastBackupAt"])) >= answered_at - 1
                ),
                60,
                "backup after the first turn",
            )
            stack.offline_model().script([{"match": slow, "times": 1, **SLOW}])
            m2 = await send(ws, account, f"tell me a long story about {slow}")
            for n in range(3):
                await send(ws, account, f"queued message {n} {token()}")
            await wait_chunks(ws, m2, 3)
            tree = stack.process_tree()
            assert len(tree) >= 3, "the stack, the agent and its gateway"
            killed = time.monotonic()
            await asyncio.to_thread(stack.kill_tree)
        survivors = await wait_until(
            lambda: not [pid for pid in tree if alive(pid)], 20, "every process of the stack gone"
        )
        assert survivors
        figure("stack_kill_all_gone_s", time.monotonic() - killed)

        await asyncio.to_thread(stack.start)  # the same command again
        async with user.ws() as ws:
            replies = {f"{mid}:r" for mid in account.messages}

            def all_answered() -> bool:
                stored = {str(m["id"]) for m in history(user) if m["role"] == "assistant"}
                return replies <= stored

            await wait_until(all_answered, 400, "every acknowledged message answered")
            figure("stack_kill_to_all_answered_s", time.monotonic() - killed)
            remembered = await ask_what_i_said(ws)
        assert first in remembered, (remembered, stack.task_log(user))
        account.settle(history(user), remembered=remembered, notes="stack SIGKILL + restart")
    finally:
        await asyncio.to_thread(stack.stop)
