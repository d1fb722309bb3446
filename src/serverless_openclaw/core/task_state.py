"""The agent task's state machine (decision D7): Idle -> Starting -> Running -> Stopping -> Idle.

Pure: `apply(state, event)` returns the next state or raises `TransitionRejected`. The store
(`aws/stores/task_state.py`) reads a row, calls `apply`, and writes only the attributes that
changed, conditioned on the row's `version`; a lost race re-reads and decides again. That is
what makes two first messages at once start one task, not two.

Every launch gets a fresh `launch_id`, written before RunTask and handed to the task as
`SOC_TASK_ID`. Events coming from a task carry it, so a task that outlived its launch (a stuck
start the watchdog gave up on, a restart) can no longer change the row.

Failure paths: a launch that fails goes Starting -> Idle with `last_error`; a task that reports
a failure goes to Stopping; the watchdog moves rows whose task is gone to Idle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from serverless_openclaw.contracts.frames import AgentState
from serverless_openclaw.contracts.records import AgentStatus
from serverless_openclaw.core.errors import TransitionRejected

ACTIVE_STATES: frozenset[AgentState] = frozenset({"starting", "running", "stopping"})


@dataclass(frozen=True)
class TaskState:
    """One user's row. `version` 0 means no row has been written yet."""

    user_id: str
    state: AgentState = "idle"
    version: int = 0
    launch_id: str | None = None
    task_arn: str | None = None
    phase: str | None = None
    state_since: datetime | None = None
    started_at: datetime | None = None
    last_activity_at: datetime | None = None
    last_backup_at: datetime | None = None
    last_backup_bytes: int | None = None
    last_backup_manifest: str | None = None
    """Version id of the manifest of the last backup a current launch committed (D12): the
    next task restores exactly that one, never a newer manifest a fenced task wrote."""
    next_wake_at: datetime | None = None
    next_wake_job: str | None = None
    last_error: str | None = None
    wake_pending: bool = False
    """A wake was asked for while the task was stopping; the watchdog starts it once idle."""
    usage_day: str | None = None
    """UTC day (YYYY-MM-DD) that `usage_seconds` counts; a run is booked on the day it ends."""
    usage_seconds: float = 0.0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def to_status(self) -> AgentStatus:
        return AgentStatus(
            state=self.state,
            phase=self.phase,
            startedAt=self.started_at if self.active else None,
            lastActivityAt=self.last_activity_at,
            lastBackupAt=self.last_backup_at,
            lastBackupBytes=self.last_backup_bytes,
            nextWakeAt=self.next_wake_at,
            nextWakeJob=self.next_wake_job,
            lastError=self.last_error,
        )


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wake:
    """Someone needs the agent (a message, a connect, a scheduled wake, the start button)."""

    launch_id: str
    now: datetime


@dataclass(frozen=True)
class Launched:
    """RunTask answered with this task; may arrive after the task already marked itself
    running, so it is accepted in any active state of the same launch."""

    launch_id: str
    task_arn: str
    now: datetime


@dataclass(frozen=True)
class LaunchFailed:
    launch_id: str
    error: str
    now: datetime


@dataclass(frozen=True)
class MarkRunning:
    """The task is ready to take jobs (sent by the task itself)."""

    launch_id: str
    now: datetime


@dataclass(frozen=True)
class RequestStop:
    """Stop the task (idle timeout, the stop button, quota, the task itself). With a
    `launch_id`, only that launch may be stopped; `error` is kept as `last_error`."""

    now: datetime
    launch_id: str | None = None
    reason: str = "stop requested"
    error: str | None = None


@dataclass(frozen=True)
class Stopped:
    """The task has exited (the task itself just before exiting, or the watchdog when the
    task is gone). `launch_id=None` is only for rows without a launch (never happens in
    practice but keeps the watchdog total)."""

    launch_id: str | None
    now: datetime
    error: str | None = None


@dataclass(frozen=True)
class SetWakePending:
    now: datetime


TaskEvent = Wake | Launched | LaunchFailed | MarkRunning | RequestStop | Stopped | SetWakePending


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _same_launch(state: TaskState, launch_id: str | None, event: TaskEvent) -> None:
    if launch_id is None or state.launch_id != launch_id:
        raise TransitionRejected(
            f"{type(event).__name__} for launch {launch_id!r}, but the current launch is "
            f"{state.launch_id!r} ({state.state})"
        )


def _reject(state: TaskState, event: TaskEvent) -> TransitionRejected:
    return TransitionRejected(f"{type(event).__name__} is not allowed while {state.state}")


def _to_idle(state: TaskState, now: datetime, error: str | None) -> TaskState:
    day = utc_day(now)
    ran = max(0.0, (now - state.started_at).total_seconds()) if state.started_at else 0.0
    previous = state.usage_seconds if state.usage_day == day else 0.0
    return replace(
        state,
        state="idle",
        launch_id=None,
        task_arn=None,
        phase=None,
        state_since=now,
        last_error=error if error is not None else state.last_error,
        usage_day=day,
        usage_seconds=previous + ran,
    )


def apply(state: TaskState, event: TaskEvent) -> TaskState:
    """The next state after `event`, with `version` bumped; `TransitionRejected` otherwise."""
    nxt = _next(state, event)
    return replace(nxt, version=state.version + 1)


def _next(state: TaskState, event: TaskEvent) -> TaskState:
    match event:
        case Wake(launch_id=launch_id, now=now):
            if state.state != "idle":
                raise _reject(state, event)
            return replace(
                state,
                state="starting",
                launch_id=launch_id,
                task_arn=None,
                phase="launching",
                state_since=now,
                started_at=now,
                last_activity_at=now,
                last_error=None,
                wake_pending=False,
            )
        case Launched(launch_id=launch_id, task_arn=task_arn):
            _same_launch(state, launch_id, event)
            if not state.active:
                raise _reject(state, event)
            return replace(state, task_arn=task_arn)
        case LaunchFailed(launch_id=launch_id, error=error, now=now):
            _same_launch(state, launch_id, event)
            if state.state != "starting":
                raise _reject(state, event)
            return _to_idle(state, now, error)
        case MarkRunning(launch_id=launch_id, now=now):
            _same_launch(state, launch_id, event)
            if state.state != "starting":
                raise _reject(state, event)
            # The idle timer starts when the agent can work, not when it was asked to start:
            # a slow cold start must not make a fresh agent look idle.
            return replace(
                state, state="running", phase="ready", state_since=now, last_activity_at=now
            )
        case RequestStop(now=now, launch_id=launch_id, reason=reason, error=error):
            if launch_id is not None:
                _same_launch(state, launch_id, event)
            if state.state not in ("starting", "running"):
                raise _reject(state, event)
            return replace(
                state,
                state="stopping",
                phase=reason,
                state_since=now,
                last_error=error if error is not None else state.last_error,
            )
        case Stopped(launch_id=launch_id, now=now, error=error):
            if state.launch_id is not None or launch_id is not None:
                _same_launch(state, launch_id, event)
            if not state.active:
                raise _reject(state, event)
            return _to_idle(state, now, error)
        case SetWakePending():
            if state.state != "stopping":
                raise _reject(state, event)
            return replace(state, wake_pending=True)
    raise TransitionRejected(f"unknown event {event!r}")  # pragma: no cover
