"""Per-user quotas (decision D9): messages per minute and task hours per day.

Pure arithmetic over numbers the stores provide; the caller raises nothing itself, these
functions raise `QuotaExceeded` with a message a person can act on and a retry hint.
Days are UTC days: the same for every user and every Lambda, whatever the time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.core.errors import QuotaExceeded
from serverless_openclaw.core.task_state import TaskState, utc_day

MINUTE_SECONDS = 60


def minute_window(now: datetime) -> int:
    """The number of the fixed one-minute window `now` falls in (the rate-limit counter key)."""
    return int(now.timestamp()) // MINUTE_SECONDS


def check_message_rate(count_in_window: int, limit: int, now: datetime) -> None:
    """`count_in_window` includes the message being checked."""
    if count_in_window > limit:
        retry = MINUTE_SECONDS - (now.timestamp() % MINUTE_SECONDS)
        raise QuotaExceeded(
            f"You can send {limit} messages per minute; try again in {int(retry) + 1} s.",
            retry_after_s=retry,
        )


def task_seconds_today(state: TaskState, now: datetime) -> float:
    """Task time booked today plus the run in progress (counted in full, from its start)."""
    booked = state.usage_seconds if state.usage_day == utc_day(now) else 0.0
    running = (now - state.started_at).total_seconds() if state.active and state.started_at else 0.0
    return booked + max(0.0, running)


def seconds_until_next_day(now: datetime) -> float:
    utc = now.astimezone(UTC)
    midnight = (utc + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - utc).total_seconds()


def task_hours_exceeded(state: TaskState, now: datetime, hours_per_day: float) -> bool:
    return task_seconds_today(state, now) >= hours_per_day * 3600


def check_task_hours(state: TaskState, now: datetime, hours_per_day: float) -> None:
    if task_hours_exceeded(state, now, hours_per_day):
        raise QuotaExceeded(
            f"Your agent has run {hours_per_day:g} hours today, the daily limit; it can start "
            "again after midnight UTC.",
            retry_after_s=seconds_until_next_day(now),
        )
