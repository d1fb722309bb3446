"""Scheduled work while scaled to zero: the agent's side.

1. Keep the control plane told when the agent next needs to be awake: after each turn, when
   the gateway reports scheduler changes, and before stopping, read the jobs (`cron.list`)
   and record the earliest one that deserves a wake-up (core/schedule.py) in the task state;
   the watchdog wakes the agent a little before it.
2. Deliver what nobody asked for: reminders, automation output and heartbeat messages that
   are not silent acknowledgements. Those runs emit `cron`/`task`/`heartbeat` events, not
   chat deltas, so their text is read from the main session's history. Each message is
   stored once (its id comes from OpenClaw's own message id), then pushed to the open
   browsers and sent to the linked Telegram chat. OpenClaw's own channel delivery stays off
   (decision D3): this is the only path. The store is fenced by the launch (D12), like the
   bridge's replies.
3. Count what those runs cost (agent/metering.py): the model calls in the main session's
   history (heartbeats, reminders, automations on the main session) and the `finished`
   events of isolated automation runs; then hold the person's budget — pausing automations
   and heartbeats when it is spent (no scheduled wake-up before it resets), resuming them
   when it resets, telling the person once.

Time comes from an injectable clock (`agent/clock.py`): tests drive the debounce, the poll
interval and "now" without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import (
    ConversationDeleted,
    Fenced,
    OpenClawError,
    StorageUnavailable,
)
from serverless_openclaw.core.schedule import NextWake, ScheduledJob, from_millis, next_wake
from serverless_openclaw.core.spend import ModelCall
from serverless_openclaw.ports.stores import ConversationStore, SettingsStore

from .clock import SYSTEM_CLOCK, Clock
from .delivery import ReplySink
from .metering import BudgetGuard, Meter
from .openclaw.gateway import Gateway, HistoryMessage, cron_run_call
from .openclaw.protocol import EventFrame
from .reporter import AgentReporter

log = logging.getLogger(__name__)

MAIN_SESSION: Final = "agent:main:main"
WATCHED_EVENTS: Final = frozenset({"cron", "heartbeat", "task", "sessions.changed"})
SILENT_REPLIES: Final = ("HEARTBEAT_OK", "NO_REPLY")


def is_silent(text: str) -> bool:
    stripped = text.strip()
    return not stripped or any(stripped.startswith(token) for token in SILENT_REPLIES)


def proactive_messages(
    history: list[HistoryMessage], *, own_runs: set[str], since_ms: int
) -> list[HistoryMessage]:
    """Assistant messages in the main session that no inbox job asked for.

    An assistant message that answers a user message is never proactive, whichever run wrote
    it: after a crash OpenClaw resumes an interrupted turn by itself under a run id we do not
    know, while the bridge answers the redelivered job with a turn of its own. What follows
    no user message (reminders, automation output, heartbeat turns) is proactive, except
    OpenClaw's notices of runs that failed or were cut off ("The agent run failed before
    producing a reply."), which a crash recovery leaves behind after the real answer.
    """
    found = []
    answering: str | None = None
    awaiting_answer = False
    for message in history:
        if message.role == "user":
            awaiting_answer, answering = True, None
            continue
        if message.role != "assistant":
            continue
        if awaiting_answer:
            awaiting_answer, answering = False, message.run_id
            continue
        if answering is not None and message.run_id == answering:
            continue
        if not message.id or (message.run_id is not None and message.run_id in own_runs):
            continue
        if (message.timestamp_ms or 0) < since_ms or is_silent(message.text):
            continue
        if message.stop_reason in ("error", "aborted"):
            continue
        found.append(message)
    return found


ProactiveSinks = Callable[[str], ReplySink]
"""message id -> where a proactive message goes (web push + Telegram)."""


@dataclass
class Scheduler:
    user_id: str
    launch_id: str
    gateway: Gateway
    reporter: AgentReporter
    conversations: ConversationStore
    user_settings: SettingsStore
    sinks: ProactiveSinks
    own_runs: set[str]
    clock: Clock = SYSTEM_CLOCK
    started_ms: int | None = None
    """Assistant messages older than this are not proactive news (default: when made)."""
    debounce_s: float = 0.5
    poll_every_s: float = 60.0
    recorded: NextWake | str | None = "unknown"
    """What this task last wrote; "unknown" at start, so the first pass always writes (the row
    may still hold the previous task's value)."""
    delivered: int = 0
    meter: Meter | None = None
    budget: BudgetGuard | None = None
    _runs: list[ModelCall] = field(default_factory=list)
    """Isolated automation runs that finished since the last pass."""
    _poke: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.started_ms is None:
            self.started_ms = int(self.clock.now().timestamp() * 1000)

    def on_event(self, frame: EventFrame) -> None:
        """Called by the gateway client for every event (synchronously; just a poke)."""
        if frame.event in WATCHED_EVENTS:
            if frame.event == "cron" and (call := cron_run_call(frame.payload)) is not None:
                self._runs.append(call)
            self._poke.set()

    def poke(self) -> None:
        self._poke.set()

    async def run(self) -> None:
        while True:
            await self._poked_or_timeout()
            await self.clock.sleep(self.debounce_s)
            self._poke.clear()
            try:
                await self.deliver_new()
                if self.budget is not None:
                    await self.budget.check()
                await self.refresh_schedule()
            except Fenced:
                raise  # the supervisor stops this task
            except OpenClawError as exc:
                log.warning("scheduler pass failed (next pass retries): %s", exc)

    async def _poked_or_timeout(self) -> None:
        poked = asyncio.ensure_future(self._poke.wait())
        timer = asyncio.ensure_future(self.clock.sleep(self.poll_every_s))
        try:
            await asyncio.wait({poked, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            poked.cancel()
            timer.cancel()

    async def refresh_schedule(self) -> NextWake | None:
        settings = await asyncio.to_thread(self.user_settings.get, self.user_id)
        jobs = [
            ScheduledJob(
                id=job.id,
                name=job.name,
                enabled=job.enabled,
                next_run_at=from_millis(job.next_run_at_ms),
                payload_kind=job.payload_kind,
                declaration_key=job.declaration_key,
            )
            for job in await self.gateway.cron_list()
        ]
        wake = next_wake(
            jobs,
            policy=settings.scheduledWakes,
            heartbeat=settings.heartbeat,
            now=self.clock.now(),
        )
        resumes = self.budget.resumes_at if self.budget is not None else None
        if wake is not None and resumes is not None and wake.at < resumes:
            # Paused by a spent budget: nothing runs before it resets, so no wake-up either.
            wake = replace(wake, at=resumes)
        if wake != self.recorded:
            await self.reporter.next_wake(
                wake.at if wake else None, wake.job_name if wake else None
            )
            self.recorded = wake
            log.info("next scheduled wake: %s", wake)
        return wake

    async def next_job_in(self) -> float | None:
        """Seconds until the earliest enabled job of OpenClaw's schedule runs, whatever the
        wake policy (negative: overdue; None: nothing scheduled). The pre-warm keeps out of
        its way."""
        now_ms = self.clock.now().timestamp() * 1000
        due = [
            job.next_run_at_ms
            for job in await self.gateway.cron_list()
            if job.enabled and job.next_run_at_ms is not None
        ]
        return (min(due) - now_ms) / 1000 if due else None

    async def deliver_new(self) -> int:
        history = await self.gateway.chat_history(MAIN_SESSION, limit=50)
        count = 0
        for message in proactive_messages(
            history, own_runs=self.own_runs, since_ms=self.started_ms or 0
        ):
            moment = datetime.fromtimestamp((message.timestamp_ms or 0) / 1000, UTC)
            if await self._deliver(f"oc-{message.id}", message.text, moment):
                count += 1
        self.delivered += count
        if count:
            await self.reporter.heartbeat()
        await self._meter(history)
        return count

    async def tell(self, message_id: str, text: str) -> bool:
        """A message of ours to the person (e.g. that their budget is spent), delivered like
        a proactive one: stored once by its id, then to the browsers and Telegram."""
        return await self._deliver(message_id, text, self.clock.now())

    async def _deliver(self, message_id: str, text: str, moment: datetime) -> bool:
        stored = Message(
            id=message_id,
            conversationId=MAIN_CONVERSATION_ID,
            role="assistant",
            text=text,
            createdAt=moment,
            source="agent",
            proactive=True,
        )
        try:
            new = await asyncio.to_thread(
                self.conversations.put_message, self.user_id, stored, fence=self.launch_id
            )
        except ConversationDeleted:
            return False  # the person deleted the conversation after this was written
        except StorageUnavailable as exc:
            log.warning("could not store a proactive message: %s", exc)
            return False
        if not new:
            return False
        sink = self.sinks(stored.id)
        try:
            await sink.start()
            await sink.finish(text)
        finally:
            await sink.aclose()
        return True

    async def _meter(self, history: list[HistoryMessage]) -> None:
        """Count the model calls of the main session since this task started (heartbeats,
        reminders, the person's turns the bridge counted already) and of finished isolated
        automation runs; each only once."""
        if self.meter is None:
            return
        since = self.started_ms or 0
        calls = [
            call
            for message in history
            if (message.timestamp_ms or 0) >= since and (call := message.model_call()) is not None
        ]
        calls += self._runs
        self._runs = []
        await self.meter.record(calls)
