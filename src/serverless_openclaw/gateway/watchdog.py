"""The watchdog (EventBridge, every minute): reconcile task-state rows with what ECS runs.

Per row (decisions in `core.wake.decide_watchdog`): stop agents idle past the user's
`idleTimeoutMinutes` (after the minimum uptime) or over today's task hours; give up on starts
that take too long; move rows whose task is gone back to Idle; start agents that were asked
for while stopping or whose scheduled wake is due. Then stop orphans: running tasks whose
launch no row owns. Each user is handled on its own: one failing row does not stop the rest.
Last, dead letters: a job that exhausted its deliveries (it sits in the one dead-letter queue
the alarm watches) is answered with a notice that it could not be answered — on the web and
in Telegram — and then dropped, so nobody waits on silence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.core.errors import OpenClawError, TransitionRejected
from serverless_openclaw.core.schedule import skipped_wake_notice, wake_cap_reached
from serverless_openclaw.core.task_state import RequestStop, Stopped, TaskState, apply
from serverless_openclaw.core.wake import (
    TaskObservation,
    WatchdogAction,
    WatchdogDecision,
    WatchdogLimits,
    decide_watchdog,
    restart_after_crash,
)
from serverless_openclaw.gateway import notices
from serverless_openclaw.gateway.observability import entry, logger
from serverless_openclaw.ports.compute import TaskInfo


@dataclass
class WatchdogReport:
    actions: Counter[str] = field(default_factory=Counter)
    orphans_stopped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": dict(self.actions),
            "orphansStopped": len(self.orphans_stopped),
            "errors": len(self.errors),
        }


def _limits(services: Services, state: TaskState) -> WatchdogLimits:
    s = services.settings
    needs_user = state.state == "running" or (
        state.state == "idle" and state.next_wake_at is not None
    )
    user = services.user_settings.get(state.user_id) if needs_user else None
    return WatchdogLimits(
        idle_timeout_s=(user.idleTimeoutMinutes if user else s.default_idle_timeout_minutes) * 60,
        min_uptime_s=s.min_uptime_seconds,
        starting_timeout_s=s.starting_timeout_seconds,
        stopping_timeout_s=s.stopping_timeout_seconds,
        task_hours_per_day=s.quotas.task_hours_per_day,
        wake_lead_s=user.wakeLeadSeconds if user else 0,
        scheduled_wakes=(user.scheduledWakes != "none") if user else False,
    )


def _observe(state: TaskState, tasks: dict[str, TaskInfo]) -> TaskObservation | None:
    info = tasks.get(state.task_arn) if state.task_arn else None
    return TaskObservation(alive=info.alive) if info else None


def _carry_out(
    services: Services,
    state: TaskState,
    decision: WatchdogDecision,
    tasks: dict[str, TaskInfo],
    now: datetime,
) -> None:
    user = state.user_id
    match decision.action:
        case WatchdogAction.NONE:
            return
        case WatchdogAction.WAKE:
            if decision.reason.startswith("scheduled") and not _scheduled_wake_allowed(
                services, state, now
            ):
                return
            ops.wake(services, user, decision.reason)
        case WatchdogAction.RESET:
            services.task_state.transition(user, Stopped(state.launch_id, now, decision.error))
            if decision.error is not None:
                _restart_for_waiting_jobs(services, user, now)
        case WatchdogAction.STOP_AGAIN:
            if state.task_arn:
                services.compute.stop_task(state.task_arn, decision.reason)
        case WatchdogAction.STOP:
            # Decide again on a fresh read: a heartbeat may have just arrived.
            fresh = services.task_state.get(user)
            again = decide_watchdog(fresh, _observe(fresh, tasks), now, _limits(services, fresh))
            if again.action is not WatchdogAction.STOP:
                return
            error = again.error
            stopped = services.task_state.write(
                fresh,
                apply(
                    fresh,
                    RequestStop(now, launch_id=fresh.launch_id, reason=again.reason, error=error),
                ),
            )
            if stopped.task_arn:
                services.compute.stop_task(stopped.task_arn, again.reason)
            ops.push_status(services, stopped)


def _restart_for_waiting_jobs(services: Services, user: str, now: datetime) -> None:
    pending = services.inbox.depth(user)
    if not pending:
        return
    key = f"crash-restart#{user}#{now.strftime('%Y%m%d%H')}"
    attempt = services.counters.increment(key, expires_at=now + timedelta(hours=2))
    if not restart_after_crash(pending, attempt - 1):
        logger.warning("not restarting after a crash", extra={"user_id": user, "jobs": pending})
        return
    logger.info("restarting for jobs left by a crashed task", extra={"user_id": user})
    ops.wake(services, user, "jobs waiting after a crash")


def _scheduled_wake_allowed(services: Services, state: TaskState, now: datetime) -> bool:
    """The daily cap of scheduled wake-ups protects the bill; what it skips is reported to
    the person (once per job and time), never dropped silently."""
    user = services.user_settings.get(state.user_id)
    day = now.strftime("%Y%m%d")
    key = f"sched-wake#{state.user_id}#{day}"
    used = services.counters.value(key)
    if not wake_cap_reached(used, user.maxScheduledWakesPerDay):
        services.counters.increment(key, expires_at=now + timedelta(days=2))
        return True
    at = state.next_wake_at or now
    job = state.next_wake_job or "a scheduled job"
    notices.notify(
        services,
        state.user_id,
        skipped_wake_notice(job, at, user.maxScheduledWakesPerDay),
        key=f"skipped#{state.user_id}#{job}#{at.isoformat()}",
        at=now,
    )
    logger.info("scheduled wake skipped: daily cap", extra={"user_id": state.user_id})
    return False


def sweep(services: Services, now: datetime | None = None) -> WatchdogReport:
    """One pass over every row and every running task."""
    moment = now or services.clock()
    report = WatchdogReport()
    rows = {row.user_id: row for row in services.task_state.scan()}
    running = services.compute.list_running()
    arns = set(running) | {row.task_arn for row in rows.values() if row.task_arn}
    tasks = services.compute.describe(sorted(arns)) if arns else {}

    for row in rows.values():
        try:
            decision = decide_watchdog(row, _observe(row, tasks), moment, _limits(services, row))
            if decision.action is not WatchdogAction.NONE:
                logger.info(
                    "watchdog action",
                    extra={
                        "user_id": row.user_id,
                        "action": decision.action.value,
                        "reason": decision.reason,
                    },
                )
            _carry_out(services, row, decision, tasks, moment)
            report.actions[decision.action.value] += 1
        except (OpenClawError, TransitionRejected) as exc:
            logger.warning("watchdog row failed", extra={"user_id": row.user_id, "error": str(exc)})
            report.errors.append(f"{row.user_id}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one user's bug must not stop everyone's watchdog
            logger.exception("watchdog row crashed", extra={"user_id": row.user_id})
            report.errors.append(f"{row.user_id}: {type(exc).__name__}")

    for arn in running:
        info = tasks.get(arn)
        if info is None or not info.alive:
            continue
        try:
            if _is_orphan(services, info):
                services.compute.stop_task(arn, "orphan: no task-state row owns it")
                report.orphans_stopped.append(arn)
                logger.warning("stopped orphan task", extra={"task": arn, "user_id": info.user_id})
        except OpenClawError as exc:
            report.errors.append(f"{arn}: {exc}")
    _answer_dead_letters(services, moment, report)
    return report


DEAD_LETTERS_PER_SWEEP = 50
"""A bound per minute; more wait for the next sweep (they stay in the queue)."""


def _answer_dead_letters(services: Services, now: datetime, report: WatchdogReport) -> None:
    handled = 0
    while handled < DEAD_LETTERS_PER_SWEEP:
        try:
            letters = services.inbox.dead_letters(max_jobs=10)
        except OpenClawError as exc:
            report.errors.append(f"dead letters: {exc}")
            return
        if not letters:
            return
        for letter in letters:
            handled += 1
            try:
                if isinstance(letter.job, ChatJob):
                    notices.notify_unanswered(services, letter.job, at=now)
                logger.warning(
                    "dead letter answered and dropped",
                    extra={
                        "user_id": letter.job.userId if letter.job else None,
                        "job_id": letter.job.jobId if letter.job else None,
                    },
                )
                services.inbox.drop_dead_letter(letter.receipt_handle)
                report.actions["dead_letter"] += 1
            except OpenClawError as exc:
                # Left in the queue: it comes back after its visibility timeout.
                report.errors.append(f"dead letter {letter.message_id}: {exc}")


def _is_orphan(services: Services, info: TaskInfo) -> bool:
    """Checked against a fresh read: a launch that began after our scan writes its row
    (with the launch id) before RunTask, so it is never mistaken for an orphan."""
    if not info.user_id or not info.launch_id:
        return True
    owner = services.task_state.get(info.user_id)
    return not (owner.active and owner.launch_id == info.launch_id)


def handle(event: Any, services: Services) -> dict[str, Any]:
    try:
        parse(event=event if isinstance(event, dict) else {}, model=EventBridgeModel)
    except ValidationError:
        logger.warning("watchdog: not an EventBridge event; ignored")
        return {"statusCode": 400}
    try:
        report = sweep(services)
    except OpenClawError as exc:
        logger.error("watchdog could not run", extra={"error": str(exc)})
        return {"statusCode": 503}
    logger.info("watchdog done", extra=report.as_dict())
    return {"statusCode": 200, **report.as_dict()}


handler = entry("watchdog", correlation_paths.EVENT_BRIDGE, handle, on_crash={"statusCode": 500})
