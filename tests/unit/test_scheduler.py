"""The agent's scheduler on a hand-driven clock: what it records for the watchdog, what it
delivers that nobody asked for, and when its passes run — no real minutes pass."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.delivery import ReplySinks
from serverless_openclaw.agent.openclaw.fake import FakeGateway
from serverless_openclaw.agent.reporter import AgentReporter
from serverless_openclaw.agent.scheduler import Scheduler
from serverless_openclaw.app.broadcast import Broadcaster

from .conftest import USER, frames, launch, messages, running


def ms(clock: ManualClock, seconds: float) -> int:
    return int((clock.now() + timedelta(seconds=seconds)).timestamp() * 1000)


def scheduler(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway, launch_id: str
) -> Scheduler:
    api = ports.connections_api()
    broadcaster = Broadcaster(ports.connections(), api) if api is not None else None
    return Scheduler(
        user_id=USER,
        launch_id=launch_id,
        gateway=gateway,
        reporter=AgentReporter(ports.task_state(), broadcaster, user_id=USER, launch_id=launch_id),
        conversations=ports.conversations(),
        user_settings=ports.user_settings(),
        sinks=ReplySinks(
            user_id=USER,
            connections=ports.connections(),
            broadcaster=broadcaster,
            telegram=None,
            telegram_links=ports.telegram(),
            clock=clock,
        ).proactive,
        own_runs=set(),
        clock=clock,
    )


def openclaws_own_jobs(gateway: FakeGateway, clock: ManualClock) -> None:
    """What a fresh OpenClaw state holds: a heartbeat and maintenance jobs."""
    gateway.add_cron_job(
        "heartbeat-main",
        next_run_at_ms=ms(clock, 1800),
        payload_kind="heartbeat",
        declaration_key="heartbeat:main",
    )
    gateway.add_cron_job(
        "Memory Dreaming Promotion",
        next_run_at_ms=ms(clock, 6 * 3600),
        payload_kind="agentTurn",
        declaration_key="memory:dreaming",
    )


async def test_the_persons_reminder_is_recorded_for_the_watchdog_and_openclaws_jobs_are_not(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    launch_id = running(ports)
    openclaws_own_jobs(gateway, clock)
    agent = scheduler(ports, clock, gateway, launch_id)

    assert await agent.refresh_schedule() is None
    row = ports.task_state().get(USER)
    assert row.next_wake_at is None, "a disabled heartbeat and maintenance wake nobody"

    gateway.add_cron_job("Reminder: stretch", next_run_at_ms=ms(clock, 210))
    await agent.refresh_schedule()
    row = ports.task_state().get(USER)
    assert row.next_wake_job == "Reminder: stretch"
    assert row.next_wake_at == clock.now() + timedelta(seconds=210)


async def test_a_deleted_job_no_longer_wakes_the_agent(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    launch_id = running(ports)
    agent = scheduler(ports, clock, gateway, launch_id)
    job = gateway.add_cron_job(
        "Water the plants",
        next_run_at_ms=ms(clock, 150),
        schedule={"kind": "every", "everyMs": 150_000},
    )
    await agent.refresh_schedule()
    assert ports.task_state().get(USER).next_wake_job == "Water the plants"

    gateway.remove_cron_job(job)
    await agent.refresh_schedule()
    row = ports.task_state().get(USER)
    assert (row.next_wake_at, row.next_wake_job) == (None, None)


async def test_a_reminder_that_ran_reaches_the_browser_once_and_is_stored_once(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    launch_id = running(ports)
    agent = scheduler(ports, clock, gateway, launch_id)
    job = gateway.add_cron_job("Reminder: stretch", next_run_at_ms=ms(clock, 60))
    await clock.advance(60)
    await gateway.fire_cron_job(job, "⏰ Time to stretch!", delete=True)

    assert await agent.deliver_new() == 1
    assert await agent.deliver_new() == 0, "the next pass finds it delivered"

    [stored] = messages(ports)
    assert (stored.text, stored.proactive) == ("⏰ Time to stretch!", True)
    pushed = [f for f in frames(ports) if f.get("id") == stored.id]
    assert [f["type"] for f in pushed] == ["stream_start", "stream_end"]
    assert pushed[0]["proactive"] is True


async def test_passes_run_on_gateway_events_after_the_debounce_and_every_poll_interval(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    launch_id = running(ports)
    agent = scheduler(ports, clock, gateway, launch_id)
    gateway.listen(agent.on_event)
    loop = asyncio.create_task(agent.run())
    try:
        await clock.parked()  # waiting for a poke or the poll interval
        gateway.add_cron_job("Reminder: call mum", next_run_at_ms=ms(clock, 3600))  # a `cron` event
        await clock.parked()  # the debounce sleeps on the clock
        assert ports.task_state().get(USER).next_wake_job is None, "debounced, not yet"
        await clock.advance(agent.debounce_s)
        await _until_recorded(ports, "Reminder: call mum")

        # No event at all: the poll interval still brings a pass (a job changed by OpenClaw
        # without telling, e.g. its next run moved).
        gateway.cron_jobs[0]["name"] = "Reminder: call dad"
        await clock.parked()
        await clock.advance(agent.poll_every_s + agent.debounce_s)
        await _until_recorded(ports, "Reminder: call dad")
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop


async def _until_recorded(ports: MemoryPorts, job: str) -> None:
    for _ in range(500):
        if ports.task_state().get(USER).next_wake_job == job:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{job!r} was not recorded")


async def test_a_fenced_scheduler_stores_and_records_nothing(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    from serverless_openclaw.core.errors import Fenced

    old = running(ports)
    agent = scheduler(ports, clock, gateway, old)
    launch(ports)  # the control plane started another task
    job = gateway.add_cron_job("Reminder: stretch", next_run_at_ms=ms(clock, 60))
    await gateway.fire_cron_job(job, "⏰ Time to stretch!")

    with pytest.raises(Fenced):
        await agent.deliver_new()
    with pytest.raises(Fenced):
        await agent.refresh_schedule()
    assert messages(ports) == []
    assert frames(ports) == []
    assert ports.task_state().get(USER).next_wake_job is None


async def test_the_next_job_of_any_kind_is_what_the_pre_warm_keeps_out_of_the_way_of(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    agent = scheduler(ports, clock, gateway, running(ports))
    assert await agent.next_job_in() is None  # nothing scheduled
    openclaws_own_jobs(gateway, clock)
    assert await agent.next_job_in() == 1800  # OpenClaw's heartbeat counts too
    gateway.add_cron_job("Paused", next_run_at_ms=ms(clock, 10), enabled=False)
    gateway.add_cron_job("Reminder: stretch", next_run_at_ms=ms(clock, 45))
    assert await agent.next_job_in() == 45
