"""One real scheduled wake-up, end to end on the dev stack with the real OpenClaw: a reminder
set while the agent is awake wakes it again after it was stopped, and reaches the web and
Telegram. It is the only proof that OpenClaw's own scheduler, the agent's record of its next
job and the watchdog fit together, so it is kept, as short as a cold start allows.

Everything else about scheduled work runs on a hand-driven clock without OpenClaw or real
minutes: recurring jobs until deleted, the daily cap and its notice, an agent with nothing
scheduled (tests/unit/test_scheduled_wakes.py), and what the agent records and delivers
(tests/unit/test_scheduler.py).

The job is created through the gateway's `cron.add` with an admin operator client: in
OpenClaw 2026.9.6 an embedded agent run has no `cron` tool, so the offline model cannot
schedule from chat.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.waits, pytest.mark.timeout(600)]

LEAD_S = 45
"""The watchdog wakes the agent this early: covers a cold start on a loaded 2-core machine
(measured ~20-45 s; a later start only makes the reminder late, which the test allows up to
a minute)."""
DUE_S = 80
"""When the reminder is due, counted from its creation: the agent's stop (~15 s) and the
lead time, with room to spare."""


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def reminder(name: str, seconds: float) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": {"kind": "at", "at": at(seconds)},
        "sessionTarget": "main",
        "wakeMode": "now",
        "payload": {"kind": "systemEvent", "text": name},
        "deleteAfterRun": True,
    }


async def poll(check: Callable[[], Awaitable[Any]], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


class Timeline:
    """What one user's agent did, sampled every second from the task-state row."""

    def __init__(self, stack, user) -> None:  # type: ignore[no-untyped-def]
        self.stack, self.user = stack, user
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            row = await asyncio.to_thread(self.stack.task_row, self.user)
            self.samples.append((time.monotonic(), row))
            await asyncio.sleep(1)

    def launches_since(self, moment: float) -> set[str]:
        return {
            str(row["launchId"])
            for t, row in self.samples
            if t >= moment and row.get("launchId") and row.get("state") in ("starting", "running")
        }

    def state(self) -> str:
        return str(self.samples[-1][1].get("state", "idle")) if self.samples else "idle"

    async def wait_state(self, state: str, timeout: float) -> None:
        async def check() -> bool:
            return self.state() == state

        await poll(check, timeout)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def test_scheduled_one_shot_wakes_the_agent_and_reaches_web_and_telegram(
    dev_stack, figure
) -> None:  # type: ignore[no-untyped-def]
    user = dev_stack.create_user(idle_minutes=30)
    user.settings(wakeLeadSeconds=LEAD_S, wakeOnConnect=False)
    chat = 7100 + int(uuid.uuid4().int % 1000)
    await asyncio.to_thread(user.pair_telegram, chat)
    timeline = Timeline(dev_stack, user)
    timeline.start()
    try:
        async with user.ws() as ws:
            message = uuid.uuid4().hex
            await ws.send({"action": "send", "id": message, "text": "good morning"})
            await ws.reply_to(message)
            async with dev_stack.gateway_admin(user) as admin:
                await admin.request("cron.add", reminder("Reminder: stretch", DUE_S))
            due = time.monotonic() + DUE_S
            # The person stops the agent; on its way down it records the reminder.
            with user.http() as client:
                client.post("/api/agent/stop").raise_for_status()
            await timeline.wait_state("idle", 60)
            asleep = dev_stack.task_row(user)
            slept_at = time.monotonic()

            proactive = await ws.wait_for(
                lambda f: f.get("type") == "stream_end" and "stretch" in str(f.get("text")),
                timeout=due - time.monotonic() + 90,
            )
            late_s = time.monotonic() - due
            telegram = await poll(
                lambda: asyncio.to_thread(
                    lambda: [t for t in user.telegram_texts(chat) if "stretch" in t]
                ),
                60,
            )
            history = [m for m in user.messages() if m.get("proactive")]
    finally:
        await timeline.stop()
        user.stop_agent()

    assert asleep.get("nextWakeJob") == "Reminder: stretch", asleep
    assert timeline.launches_since(slept_at), "the watchdog woke the sleeping agent"
    assert late_s < 60, "the reminder arrived within the job's minute"
    figure("scheduled_reminder_delay_s", late_s)
    assert proactive["type"] == "stream_end"
    assert telegram, "the linked Telegram chat got the reminder"
    assert any("stretch" in str(m["text"]) for m in history)
