"""Scheduled wake-ups while scaled to zero, end to end on the dev stack with the real OpenClaw.

The four scenarios run concurrently (one user and one agent each) because each has to wait
for real minutes to pass: one-shot reminder, recurring job until deleted, daily cap, and an
idle agent with the heartbeat off. Jobs are created through the gateway's `cron.add` with an
admin operator client: in OpenClaw 2026.9.6 an embedded agent run has no `cron` tool, so the
offline model cannot schedule from chat (a real model can ask the agent's exec tool to run
`openclaw automations add`, which we do not exercise here).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

IDLE_MINUTES = 1
LEAD_S = 60  # covers a cold start on a loaded 2-core machine (measured ~20-40 s)


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


async def poll(check: Callable[[], Awaitable[Any]], timeout: float, every: float = 2.0) -> Any:
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

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def start_agent(user, ws) -> None:  # type: ignore[no-untyped-def]
    message = uuid.uuid4().hex
    await ws.send({"action": "send", "id": message, "text": "good morning"})
    await ws.reply_to(message)


async def wait_state(timeline: Timeline, state: str, timeout: float) -> None:
    async def check() -> bool:
        return timeline.state() == state

    await poll(check, timeout)


async def one_shot(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    user = stack.create_user(idle_minutes=IDLE_MINUTES)
    user.settings(wakeLeadSeconds=LEAD_S, wakeOnConnect=False)
    chat = 7100 + int(uuid.uuid4().int % 1000)
    await asyncio.to_thread(user.pair_telegram, chat)
    timeline = Timeline(stack, user)
    timeline.start()
    async with user.ws() as ws:
        await start_agent(user, ws)
        async with stack.gateway_admin(user) as admin:
            await admin.request("cron.add", reminder("Reminder: stretch", 210))
        due = time.monotonic() + 210
        await wait_state(timeline, "idle", 200)
        idle_row = stack.task_row(user)
        slept_at = time.monotonic()
        proactive = await ws.wait_for(
            lambda f: f.get("type") == "stream_end" and "stretch" in str(f.get("text")),
            timeout=due - time.monotonic() + 90,
        )
        arrived = time.monotonic()
        telegram = await poll(
            lambda: asyncio.to_thread(
                lambda: [t for t in user.telegram_texts(chat) if "stretch" in t]
            ),
            60,
        )
        history = [m for m in user.messages() if m.get("proactive")]
        await wait_state(timeline, "idle", 240)
    await timeline.stop()
    return {
        "idle_row": idle_row,
        "woken": timeline.launches_since(slept_at),
        "late_s": arrived - due,
        "proactive": proactive,
        "telegram": telegram,
        "history": history,
        "final_state": timeline.state(),
    }


async def recurring(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    user = stack.create_user(idle_minutes=IDLE_MINUTES)
    user.settings(wakeLeadSeconds=LEAD_S, wakeOnConnect=False)
    timeline = Timeline(stack, user)
    timeline.start()
    async with user.ws() as ws:
        await start_agent(user, ws)
        async with stack.gateway_admin(user) as admin:
            added = await admin.request(
                "cron.add",
                {
                    "name": "Water the plants",
                    "schedule": {"kind": "every", "everyMs": 150_000},
                    "sessionTarget": "main",
                    "wakeMode": "now",
                    "payload": {"kind": "systemEvent", "text": "Water the plants"},
                },
            )
        await wait_state(timeline, "idle", 200)
        first_sleep = time.monotonic()
        # Two scheduled wake-ups of the sleeping agent.
        await poll(lambda: asyncio.sleep(0, len(timeline.launches_since(first_sleep)) >= 2), 480)
        wakes = len(timeline.launches_since(first_sleep))
        await wait_state(timeline, "running", 120)
        async with stack.gateway_admin(user) as admin:
            await admin.request("cron.remove", {"id": added["id"]})
        # After the deletion: it idles out and stays asleep for longer than a period.
        await wait_state(timeline, "idle", 240)
        quiet_from = time.monotonic()
        await asyncio.sleep(170)
        after_delete = timeline.launches_since(quiet_from)
    await timeline.stop()
    return {"wakes": wakes, "after_delete": after_delete, "next": stack.task_row(user)}


async def capped(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    user = stack.create_user(idle_minutes=IDLE_MINUTES)
    user.settings(wakeLeadSeconds=LEAD_S, wakeOnConnect=False, maxScheduledWakesPerDay=1)
    timeline = Timeline(stack, user)
    timeline.start()
    async with user.ws() as ws:
        await start_agent(user, ws)
        async with stack.gateway_admin(user) as admin:
            await admin.request("cron.add", reminder("Reminder: one", 150))
            await admin.request("cron.add", reminder("Reminder: two", 360))
        await wait_state(timeline, "idle", 200)
        start = time.monotonic()
        notice = await ws.wait_for(
            lambda f: f.get("type") == "stream_end" and "did not wake up" in str(f.get("text")),
            timeout=500,
        )
        launches = timeline.launches_since(start)
        history = [m["text"] for m in user.messages() if m.get("proactive")]
    await timeline.stop()
    return {"notice": notice, "launches": launches, "history": history}


async def heartbeat_off(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    user = stack.create_user(idle_minutes=IDLE_MINUTES)
    user.settings(wakeOnConnect=False)  # heartbeat "off" is the default
    timeline = Timeline(stack, user)
    timeline.start()
    async with user.ws() as ws:
        await start_agent(user, ws)
    await wait_state(timeline, "idle", 200)
    row = stack.task_row(user)
    window_start = time.monotonic()
    await asyncio.sleep(240)
    await timeline.stop()
    return {"row": row, "launches": timeline.launches_since(window_start)}


SCENARIOS = {
    "one_shot": one_shot,
    "recurring": recurring,
    "capped": capped,
    "heartbeat_off": heartbeat_off,
}


@pytest.fixture(scope="module")
async def scenarios(dev_stack, request):  # type: ignore[no-untyped-def]
    """Start every scenario the selected tests need, all at once."""
    wanted = {
        name
        for item in request.session.items
        for name in SCENARIOS
        if item.module is request.module and name in item.name
    }
    tasks = {name: asyncio.create_task(SCENARIOS[name](dev_stack)) for name in sorted(wanted)}
    yield tasks
    for task in tasks.values():
        task.cancel()
    dev_stack.stop_agents()


async def test_scheduled_one_shot_wakes_the_agent_and_reaches_web_and_telegram(
    scenarios, figure
) -> None:  # type: ignore[no-untyped-def]
    result = await scenarios["one_shot"]
    assert result["idle_row"].get("nextWakeJob") == "Reminder: stretch", result["idle_row"]
    assert result["woken"], "the watchdog woke the sleeping agent for the reminder"
    assert result["late_s"] < 60, "the reminder arrived within the job's minute"
    figure("scheduled_reminder_delay_s", result["late_s"])
    assert result["proactive"]["type"] == "stream_end"
    assert result["telegram"], "the linked Telegram chat got the reminder"
    assert any("stretch" in str(m["text"]) for m in result["history"])
    assert result["final_state"] == "idle", "it idled out again afterwards"


async def test_scheduled_recurring_job_keeps_waking_until_deleted(scenarios) -> None:  # type: ignore[no-untyped-def]
    result = await scenarios["recurring"]
    assert result["wakes"] >= 2
    assert result["after_delete"] == set(), "no wake-up after the job was deleted"
    assert not result["next"].get("nextWakeAt")


async def test_scheduled_capped_daily_wakes_hold_and_skips_are_reported(scenarios) -> None:  # type: ignore[no-untyped-def]
    result = await scenarios["capped"]
    assert len(result["launches"]) == 1, "one scheduled wake-up, then the cap"
    assert "Reminder: two" in str(result["notice"]["text"])
    assert any("did not wake up" in str(text) for text in result["history"])


async def test_scheduled_heartbeat_off_lets_an_idle_agent_sleep(scenarios) -> None:  # type: ignore[no-untyped-def]
    result = await scenarios["heartbeat_off"]
    assert not result["row"].get("nextWakeAt"), "system jobs and a disabled heartbeat wake nobody"
    assert result["launches"] == set()
