"""When to start and when to stop an agent task. Pure; the control plane carries them out.

`decide_wake` answers "someone needs the agent now"; `decide_watchdog` is what the minutely
watchdog does with one user's row given what ECS says about its task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from serverless_openclaw.core.quotas import check_task_hours, task_hours_exceeded
from serverless_openclaw.core.schedule import keep_awake_for_wake
from serverless_openclaw.core.task_state import TaskState


class WakeDecision(Enum):
    START = "start"
    """Idle: launch a task (the store's conditional write decides who actually launches)."""
    ALREADY_AWAKE = "already_awake"
    """Starting or running: the queued job will be picked up."""
    AFTER_STOP = "after_stop"
    """Stopping: the task no longer takes jobs; start a new one once it is gone."""


def decide_wake(state: TaskState, now: datetime, *, task_hours_per_day: float) -> WakeDecision:
    """Raises `QuotaExceeded` when the agent is not running and today's task hours are used."""
    if state.state in ("starting", "running"):
        return WakeDecision.ALREADY_AWAKE
    check_task_hours(state, now, task_hours_per_day)
    if state.state == "stopping":
        return WakeDecision.AFTER_STOP
    return WakeDecision.START


@dataclass(frozen=True)
class TaskObservation:
    """What ECS says about the task a row points at. `alive` = not stopped (or stopping)."""

    alive: bool


@dataclass(frozen=True)
class WatchdogLimits:
    idle_timeout_s: float
    min_uptime_s: float
    starting_timeout_s: float
    stopping_timeout_s: float
    task_hours_per_day: float
    wake_lead_s: float = 0.0
    scheduled_wakes: bool = True
    missing_grace_s: float = 30.0
    """A task RunTask just returned may not be listed yet (ECS is eventually consistent)."""


class WatchdogAction(Enum):
    NONE = "none"
    STOP = "stop"
    """Move to Stopping and StopTask."""
    STOP_AGAIN = "stop_again"
    """Already Stopping for too long and still alive: StopTask again."""
    RESET = "reset"
    """The task is gone (or never came): move the row to Idle."""
    WAKE = "wake"


@dataclass(frozen=True)
class WatchdogDecision:
    action: WatchdogAction
    reason: str = ""
    error: str | None = None
    """What to show the user as `lastError` (None: keep what is there)."""


_NONE = WatchdogDecision(WatchdogAction.NONE)


def _age(since: datetime | None, now: datetime) -> float:
    return (now - since).total_seconds() if since else float("inf")


def scheduled_wake_due(state: TaskState, now: datetime, lead_s: float) -> bool:
    """A wake the agent asked for is due and no run since has covered it; stale ones (more
    than an hour late) are dropped rather than waking the agent for nothing."""
    if state.next_wake_at is None:
        return False
    wake_from = state.next_wake_at - timedelta(seconds=lead_s)
    if now < wake_from or now - state.next_wake_at > timedelta(hours=1):
        return False
    return state.started_at is None or state.started_at < wake_from


def decide_watchdog(
    state: TaskState, task: TaskObservation | None, now: datetime, limits: WatchdogLimits
) -> WatchdogDecision:
    """`task` is None when the row names no task or ECS does not know it."""
    if state.state == "idle":
        if state.wake_pending and not task_hours_exceeded(state, now, limits.task_hours_per_day):
            return WatchdogDecision(WatchdogAction.WAKE, "message arrived while stopping")
        if (
            limits.scheduled_wakes
            and scheduled_wake_due(state, now, limits.wake_lead_s)
            and not task_hours_exceeded(state, now, limits.task_hours_per_day)
        ):
            return WatchdogDecision(WatchdogAction.WAKE, f"scheduled: {state.next_wake_job}")
        return _NONE

    in_state = _age(state.state_since, now)
    alive = task is not None and task.alive
    if not alive and (state.task_arn is not None or state.state != "starting"):
        if task is None and in_state < limits.missing_grace_s:
            return _NONE
        if state.state == "stopping":
            return WatchdogDecision(WatchdogAction.RESET, "stopped")
        return WatchdogDecision(WatchdogAction.RESET, "task is gone", "task is gone")

    if state.state == "starting":
        if in_state < limits.starting_timeout_s:
            return _NONE
        if state.task_arn is None:
            return WatchdogDecision(
                WatchdogAction.RESET, "start timed out", "start timed out before launch"
            )
        return WatchdogDecision(WatchdogAction.STOP, "start timed out", "start timed out")

    if state.state == "stopping":
        if in_state >= limits.stopping_timeout_s:
            return WatchdogDecision(WatchdogAction.STOP_AGAIN, "stop timed out")
        return _NONE

    # running
    if task_hours_exceeded(state, now, limits.task_hours_per_day):
        return WatchdogDecision(
            WatchdogAction.STOP, "daily task hours used", "daily task hours used"
        )
    idle_for = _age(state.last_activity_at, now)
    up_for = _age(state.started_at, now)
    if idle_for >= limits.idle_timeout_s and up_for >= limits.min_uptime_s:
        if limits.scheduled_wakes and keep_awake_for_wake(
            state.next_wake_at, now, limits.wake_lead_s
        ):
            return _NONE  # a scheduled job is about to run: stopping now would mean a re-wake
        return WatchdogDecision(WatchdogAction.STOP, "idle")
    return _NONE


CRASH_RESTARTS_PER_HOUR = 3


def restart_after_crash(pending_jobs: int, restarts_this_hour: int) -> bool:
    """A task that vanished (killed, out of memory, Spot without notice) may leave jobs in the
    inbox that nobody would answer until the person writes again. Start it again for them —
    but only a few times an hour, so that a task that crashes on start cannot burn money in
    a loop."""
    return pending_jobs > 0 and restarts_this_hour < CRASH_RESTARTS_PER_HOUR
