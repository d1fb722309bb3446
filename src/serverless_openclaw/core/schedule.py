"""Which of the agent's scheduled jobs deserve a wake-up, and when (issue: scheduled wake-ups).

OpenClaw's scheduler only fires while its gateway runs; our agent sleeps. So the agent reads
its jobs (`cron.list`) and records the earliest one that deserves waking for; the watchdog
starts the agent a little before it. Pure logic, unit-tested.

What deserves a wake-up (setting `scheduledWakes`, heartbeat setting `heartbeat`):
- the person's own jobs (reminders, automations) — unless `scheduledWakes` is "none";
- OpenClaw's system jobs (memory dreaming at 03:00, the weekly skill review) only with
  "all-jobs": by default they run at the next natural wake instead of paying for their own;
- the heartbeat only when the person chose to have one (`heartbeat` not "off").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from serverless_openclaw.contracts.records import HeartbeatPolicy, ScheduledWakePolicy

LATE_GRACE: Final = timedelta(minutes=2)
"""A job due a little in the past still counts (it may be running right now)."""


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    name: str
    enabled: bool
    next_run_at: datetime | None
    payload_kind: str
    declaration_key: str | None = None

    @property
    def is_heartbeat(self) -> bool:
        return self.payload_kind == "heartbeat" or (self.declaration_key or "").startswith(
            "heartbeat:"
        )

    @property
    def is_system(self) -> bool:
        """Declared by OpenClaw or a plugin rather than created by the person or the agent."""
        return self.declaration_key is not None


def from_millis(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def deserves_wake(
    job: ScheduledJob, policy: ScheduledWakePolicy, heartbeat: HeartbeatPolicy
) -> bool:
    if not job.enabled or job.next_run_at is None or policy == "none":
        return False
    if job.is_heartbeat:
        return heartbeat != "off"
    if job.is_system:
        return policy == "all-jobs"
    return True


@dataclass(frozen=True)
class NextWake:
    at: datetime
    job_name: str
    job_id: str


def next_wake(
    jobs: Iterable[ScheduledJob],
    *,
    policy: ScheduledWakePolicy,
    heartbeat: HeartbeatPolicy,
    now: datetime,
) -> NextWake | None:
    """The earliest job that deserves a wake-up and is not long past."""
    due = [
        job
        for job in jobs
        if deserves_wake(job, policy, heartbeat)
        and job.next_run_at is not None
        and job.next_run_at >= now - LATE_GRACE
    ]
    if not due:
        return None
    first = min(due, key=lambda job: job.next_run_at or now)
    assert first.next_run_at is not None
    return NextWake(first.next_run_at, first.name or first.id, first.id)


def keep_awake_for_wake(next_wake_at: datetime | None, now: datetime, lead_s: float) -> bool:
    """An agent that is up when a wake-worthy job is close must not idle out just before
    it (it would be woken again a moment later): keep it from the lead time until the job
    has had a couple of minutes to run."""
    if next_wake_at is None:
        return False
    return next_wake_at - timedelta(seconds=lead_s) <= now <= next_wake_at + LATE_GRACE


def wake_cap_reached(wakes_today: int, cap: int) -> bool:
    return wakes_today >= cap


def skipped_wake_notice(job_name: str, at: datetime, cap: int) -> str:
    when = at.astimezone(UTC).strftime("%H:%M UTC")
    return (
        f"⏰ I did not wake up for “{job_name}” at {when}: today's limit of {cap} scheduled "
        "wake-ups is reached (Settings → scheduled wake-ups). It runs the next time I am awake."
    )
