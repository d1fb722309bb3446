"""Scheduled wake-ups while scaled to zero, both sides on a hand-driven clock: the agent's
scheduler records its next wake-worthy job, the watchdog (one sweep a minute) starts the
agent `wakeLeadSeconds` early, holds a daily cap and tells the person what it skipped, and
wakes nobody when nothing is scheduled. The dev-stack test in tests/scheduled/ keeps one real
wake-up with OpenClaw's own scheduler; these cover the rest without waiting real minutes."""

from __future__ import annotations

from datetime import timedelta

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.openclaw.fake import FakeGateway
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.task_state import MarkRunning
from serverless_openclaw.gateway.watchdog import sweep
from serverless_openclaw.settings import HandlerSettings

from .conftest import USER, frames, messages, running
from .test_scheduler import ms, openclaws_own_jobs, scheduler

MINUTE = 60.0
LEAD_S = 60


def services(ports: MemoryPorts, clock: ManualClock) -> Services:
    return Services(HandlerSettings(), ports, clock=clock.now)


def stop(ports: MemoryPorts, launch_id: str) -> None:
    """What the agent's shutdown does: Stopping, then Idle (its task is gone)."""
    states = ports.task_state()
    states.mark_stopping(USER, launch_id, "idle timeout")
    states.mark_idle(USER, launch_id)


async def watch(ports: MemoryPorts, clock: ManualClock, minutes: int) -> list[tuple[float, str]]:
    """Run the watchdog once a minute for `minutes`; the launches it made, (seconds, launch)."""
    control = services(ports, clock)
    start = clock.monotonic()
    before = len(ports.compute_tasks.runs)
    woken: list[tuple[float, str]] = []
    for _ in range(minutes):
        await clock.advance(MINUTE)
        sweep(control)
        for spec in ports.compute_tasks.runs[before + len(woken) :]:
            woken.append((clock.monotonic() - start, spec.launch_id))
    return woken


async def test_a_sleeping_agent_is_woken_once_a_little_before_the_persons_reminder(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    ports.user_settings().update(USER, {"wakeLeadSeconds": LEAD_S})
    awake = running(ports)
    gateway.add_cron_job("Reminder: stretch", next_run_at_ms=ms(clock, 210))
    await scheduler(ports, clock, gateway, awake).refresh_schedule()
    stop(ports, awake)
    assert ports.task_state().get(USER).next_wake_job == "Reminder: stretch"

    woken = await watch(ports, clock, minutes=10)

    assert len(woken) == 1, woken
    at, launch_id = woken[0]
    assert 210 - LEAD_S <= at < 210, "within the lead time before the job"
    row = ports.task_state().get(USER)
    assert (row.state, row.launch_id) == ("starting", launch_id)


async def test_a_recurring_job_wakes_the_agent_each_time_until_it_is_deleted(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    ports.user_settings().update(USER, {"wakeLeadSeconds": LEAD_S})
    states = ports.task_state()
    job = gateway.add_cron_job(
        "Water the plants",
        next_run_at_ms=ms(clock, 300),
        schedule={"kind": "every", "everyMs": 300_000},
    )
    launch_id = running(ports)
    wakes = 0
    for _ in range(2):
        await scheduler(ports, clock, gateway, launch_id).refresh_schedule()
        stop(ports, launch_id)
        woken = await watch(ports, clock, minutes=5)
        assert len(woken) == 1, woken
        wakes += 1
        launch_id = woken[0][1]
        states.transition(USER, MarkRunning(launch_id, clock.now()))  # the task came up
        await clock.advance(2 * MINUTE)  # the job ran; OpenClaw moved it on
        gateway.cron_jobs[0]["state"]["nextRunAtMs"] = ms(clock, 180)

    gateway.remove_cron_job(job)
    await scheduler(ports, clock, gateway, launch_id).refresh_schedule()
    stop(ports, launch_id)
    assert await watch(ports, clock, minutes=30) == [], "no wake-up after the job was deleted"
    assert wakes == 2
    assert states.get(USER).next_wake_at is None


async def test_the_daily_cap_holds_and_the_skipped_wake_up_is_told_to_the_person(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    ports.user_settings().update(USER, {"wakeLeadSeconds": LEAD_S, "maxScheduledWakesPerDay": 1})
    first, second = ms(clock, 150), ms(clock, 600)
    gateway.add_cron_job("Reminder: one", next_run_at_ms=first)
    gateway.add_cron_job("Reminder: two", next_run_at_ms=second)
    awake = running(ports)
    await scheduler(ports, clock, gateway, awake).refresh_schedule()
    stop(ports, awake)

    [(_, woken)] = await watch(ports, clock, minutes=3)  # the first reminder's wake-up
    ports.task_state().transition(USER, MarkRunning(woken, clock.now()))
    gateway.remove_cron_job(gateway.cron_jobs[0]["id"])  # it ran (deleted after its run)
    await scheduler(ports, clock, gateway, woken).refresh_schedule()
    stop(ports, woken)

    assert await watch(ports, clock, minutes=20) == [], "the cap: one scheduled wake a day"
    notices = [m for m in messages(ports) if m.proactive]
    assert len(notices) == 1, "told once, not once a minute"
    assert "Reminder: two" in notices[0].text
    assert "did not wake up" in notices[0].text
    assert any(f.get("text") == notices[0].text for f in frames(ports))


async def test_an_agent_with_nothing_scheduled_sleeps(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    """The heartbeat is off by default; OpenClaw's maintenance jobs wait for a natural wake."""
    openclaws_own_jobs(gateway, clock)
    awake = running(ports)
    await scheduler(ports, clock, gateway, awake).refresh_schedule()
    stop(ports, awake)
    assert ports.task_state().get(USER).next_wake_at is None
    assert await watch(ports, clock, minutes=8 * 60) == []
    assert clock.now() - ports.task_state().get(USER).state_since > timedelta(hours=7)
