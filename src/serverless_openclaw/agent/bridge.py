"""The bridge: the user's inbox queue in, OpenClaw turns out (decision D1).

One receive loop long-polls the inbox. Chat jobs share the FIFO message group of the user, so
the inbox hands out the next one only after the previous one is deleted: turns run one at a
time, in order. Control jobs (abort, backup, ...) use a second group and arrive while a turn
runs.

Per chat job, in this order (memory is never behind an acknowledged answer):
1. a job whose reply is already stored is acknowledged without a second turn;
2. the person's message is stored again (idempotent) as this launch — the write is fenced
   (D12), so a task whose launch is over learns it here, before it runs anything;
3. the turn runs and streams to the reply sinks; a job delivered again (its task or gateway
   died) first looks for its answer in OpenClaw's restored session history;
4. OpenClaw's state is backed up (awaited, bounded: a slow or failed backup is logged and
   the answer goes out anyway);
5. the reply is stored (fenced), listed under its question;
6. the sinks finish; 7. the queue message is deleted.
While a turn runs its message stays invisible (visibility extended) and the task's
`lastActivity` is refreshed so the watchdog never stops a busy agent. A fenced write stops
the bridge: the job goes back to the inbox for the current task, and the supervisor stops.
A conversation the person deleted meanwhile gets no reply stored; its job is acknowledged.

No silent failure (`failures.py`): a message OpenClaw refuses for what it is gets an error
reply at once and is never retried; a gateway that cannot be reached hands the job back after
a growing delay, and on the job's last delivery it is answered with an error reply instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from serverless_openclaw.contracts.frames import MessageUsage, ReplyError
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import (
    AttachmentMissing,
    ConversationDeleted,
    Fenced,
    GatewayError,
    MessageRefused,
    OpenClawError,
    RunFailed,
    StorageUnavailable,
)
from serverless_openclaw.core.spend import ModelCall
from serverless_openclaw.ports.attachments import AttachmentStore
from serverless_openclaw.ports.inbox import MAX_RECEIVES, InboxConsumer, ReceivedJob
from serverless_openclaw.ports.stores import ConversationStore

from . import failures
from .attachments import chat_attachments, with_notes
from .clock import SYSTEM_CLOCK, Clock
from .delivery import ReplySink
from .openclaw.gateway import MAIN_SESSION_KEY, Gateway, HistoryMessage
from .openclaw.runs import ChatRun, RunDelta, RunEnd
from .reporter import AgentReporter

log = logging.getLogger(__name__)
CLOCK_SLACK_MS: Final = 5_000
"""The job was stamped by Lambda, the message by OpenClaw in the task: clocks may differ a bit."""

MODEL_ERROR_PREFIX = "⚠️ The model could not answer: "
NO_REPLY: Final = "(no reply)"
RECOVERY_POLL_S: Final = 2.0
"""How often a message OpenClaw holds unanswered is looked up while its recovery is awaited."""


@dataclass(frozen=True)
class Answer:
    """What a turn came to: the reply's text, and why it is not a full answer, if it is not."""

    text: str
    aborted: bool = False
    error: ReplyError | None = None
    """The model failed: shown in place of a reply, with "send again" (retryable)."""
    usage: MessageUsage | None = None
    """The tokens of the turn's model calls and their estimated cost."""

    @property
    def outcome(self) -> str:
        return "failed" if self.error else "aborted" if self.aborted else "answered"


def _asked_at(history: list[HistoryMessage], text: str, since_ms: int) -> int | None:
    """Where the person's `text` last reached OpenClaw (not before `since_ms`), if it did."""
    wanted = text.strip()
    asked = None
    for index, message in enumerate(history):
        if (
            message.role == "user"
            and (message.timestamp_ms or 0) >= since_ms
            and message.text.strip().endswith(wanted)
        ):
            asked = index
    return asked


def answer_in_history(history: list[HistoryMessage], text: str, since_ms: int) -> str | None:
    """The first answer after the person's `text` reached OpenClaw (not before `since_ms`)."""
    asked = _asked_at(history, text, since_ms)
    if asked is None:
        return None
    for message in history[asked + 1 :]:
        if message.role != "assistant" or not message.text.strip():
            continue
        if message.stop_reason in ("aborted", "error"):
            continue  # a partial reply cut off (by the crash or a drain), not an answer
        return message.text
    return None


def held_unanswered(history: list[HistoryMessage], text: str, since_ms: int) -> bool:
    """OpenClaw holds the person's `text` with no answer after it: a turn its restart recovery
    answers by itself. Sending the text again would put it into the agent's memory twice."""
    return (
        _asked_at(history, text, since_ms) is not None
        and answer_in_history(history, text, since_ms) is None
    )


def session_key(conversation_id: str) -> str:
    """The main conversation is OpenClaw's main session (shared by web and Telegram)."""
    if conversation_id == MAIN_CONVERSATION_ID:
        return MAIN_SESSION_KEY
    return f"agent:main:conv-{conversation_id}"


def reply_id(job_id: str) -> str:
    return f"{job_id}:r"


class SinkFactory(Protocol):
    def __call__(self, job: ChatJob) -> ReplySink: ...


@dataclass
class TurnRecord:
    """Timings of one turn, for /status and the benchmarks."""

    job_id: str
    started: float
    first_text: float | None = None
    ended: float | None = None
    outcome: str = "running"
    backup_s: float | None = None
    """How long the answer waited for the turn's state backup."""


@dataclass
class _Current:
    job: ChatJob
    received: ReceivedJob
    run: ChatRun | None = None
    task: asyncio.Task[None] | None = None
    run_ids: list[str] = field(default_factory=list)
    """Every run this turn started (a folded send starts another)."""


@dataclass(frozen=True)
class BridgeOptions:
    receive_wait_s: int = 20
    busy_receive_wait_s: int = 1
    """While a turn runs only control jobs can arrive; a short poll also means the next chat
    job is picked up within a second of the turn's end even where a long poll started
    during the turn would not see the group unlocked (moto snapshots in-flight groups)."""
    visibility_s: int = 30
    extend_every_s: float = 10.0
    heartbeat_every_s: float = 30.0
    history: int = 50
    poison_after_receives: int = 3
    recovery_settle_s: float = 8.0
    """How long a session must stay quiet before a retried job is sent or its answer looked up:
    OpenClaw 2026.9.6 starts a turn's restart recovery up to 5 s after it is asked to
    (DEFAULT_RECOVERY_DELAY_MS), e.g. by the retried job's own `chat.send`."""
    quiet_timeout_s: float = 240.0
    """How long a retried job waits for OpenClaw's own run (a recovery can be a whole turn)."""
    recovery_wait_s: float = 60.0
    """How long a main-session job whose message OpenClaw already holds unanswered waits for
    OpenClaw's restart recovery to answer it before sending it again. OpenClaw marks such a
    session at start-up and starts the recovery run later: ~5 s on a quiet machine, 14 s
    seen on a loaded one. Sending meanwhile makes the agent remember the message twice."""
    fold_attempts: int = 3
    """Sends of one job whose runs may end empty (folded into a run OpenClaw started itself)."""
    busy_wait_s: float = 60.0
    """How long a fresh job waits for a busy session before it is sent anyway: should a run's
    end ever go unseen, a turn is late, not stuck."""
    backup_timeout_s: float = 30.0
    """How long the answer waits for the turn's state backup before it goes out anyway."""
    audio_understood: bool = False
    """Whether OpenClaw has a model that listens to audio (we configure none): without one,
    the answer to a voice note says that the model could not hear it."""
    receive_retry_s: float = 2.0
    retry_base_s: float = 2.0
    retry_cap_s: float = 60.0
    """A job handed back because OpenClaw could not be reached waits base, 2*base, ... (capped,
    jittered) before its next delivery."""
    last_delivery: int = MAX_RECEIVES
    """The delivery after which the inbox sets a job aside: a transient failure on it is
    answered with an error reply instead of handed back."""


Backup = Callable[[], Awaitable[Any]]
"""Back up OpenClaw's state now; raises `Fenced` when this task may no longer write."""
Meter = Callable[[list[ModelCall]], Awaitable[MessageUsage | None]]
"""Count a turn's model calls (agent/metering.py); returns their usage for the reply."""
Refusal = Callable[[], Awaitable[str | None]]
"""Why chat is not answered now (a spent budget the person let stop chat), else None."""


@dataclass
class Bridge:
    user_id: str
    launch_id: str
    """This task's launch: every message it stores is fenced by it (D12)."""
    consumer: InboxConsumer
    gateway: Gateway
    conversations: ConversationStore
    reporter: AgentReporter
    sinks: SinkFactory
    backup: Backup
    on_turn_done: Callable[[], None]
    on_control: Callable[[ControlJob], Awaitable[None]]
    on_fatal: Callable[[BaseException], None] = lambda _: None
    options: BridgeOptions = field(default_factory=BridgeOptions)
    clock: Clock = SYSTEM_CLOCK
    meter: Meter | None = None
    refusal: Refusal | None = None
    attachments: AttachmentStore | None = None
    """Where the files a job names are read from (None: a job naming files fails)."""
    turns: list[TurnRecord] = field(default_factory=list)
    run_ids: set[str] = field(default_factory=set)
    """OpenClaw runs started for inbox jobs; any other assistant output is proactive."""
    fenced: Fenced | None = None
    """Set once a write was refused because this task's launch is over."""
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _current: _Current | None = None
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _stray: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._idle.set()

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current_job_id(self) -> str | None:
        return self._current.job.jobId if self._current else None

    # --- receiving -------------------------------------------------------------------------
    async def run(self) -> None:
        """Receive until `stop_receiving()`; turns run as tasks owned by this loop.

        A long poll still out when the bridge stops is not waited for: whatever it brings
        back is handed back to the inbox at once (not left invisible for the next task)."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        poll: asyncio.Future[list[ReceivedJob]] | None = None
        try:
            while not self._stopping.is_set():
                poll = asyncio.ensure_future(
                    asyncio.to_thread(
                        self.consumer.receive,
                        max_messages=1,
                        wait_seconds=(
                            self.options.busy_receive_wait_s
                            if self.busy
                            else self.options.receive_wait_s
                        ),
                        visibility_timeout=self.options.visibility_s,
                    )
                )
                await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not poll.done():
                    break
                try:
                    batch = poll.result()
                except StorageUnavailable as exc:
                    log.warning("inbox receive failed: %s", exc)
                    await self.clock.sleep(self.options.receive_retry_s)
                    continue
                finally:
                    if poll.done():
                        poll = None
                for received in batch:
                    await self._dispatch(received)
        finally:
            stopping.cancel()
            if poll is not None and not poll.done():
                poll.add_done_callback(self._hand_back_late)

    def _hand_back_late(self, poll: asyncio.Future[list[ReceivedJob]]) -> None:
        if poll.cancelled() or poll.exception() is not None:
            return
        for received in poll.result():
            task = asyncio.get_running_loop().create_task(self._release(received))
            self._stray.add(task)
            task.add_done_callback(self._stray.discard)

    async def _dispatch(self, received: ReceivedJob) -> None:
        if self._stopping.is_set():
            await self._release(received)
            return
        job = received.job
        if job is None:
            log.error("dropping a malformed inbox message %s", received.message_id)
            await self._delete(received)
            return
        if isinstance(job, ControlJob):
            try:
                await self.on_control(job)
            except Fenced as exc:
                await self._release(received)  # for the task that is current now
                self._fence(exc)
                return
            except OpenClawError as exc:
                log.warning("control job %s failed: %s", job.command, exc)
            await self._delete(received)
            return
        if self._current is not None and self._current.task is not None:
            # FIFO should prevent this; never run two turns at once.
            await self._current.task
        current = _Current(job=job, received=received)
        self._current = current
        self._idle.clear()
        current.task = asyncio.create_task(self._turn(current), name=f"turn-{job.jobId}")

    # --- one turn --------------------------------------------------------------------------
    async def _turn(self, current: _Current) -> None:
        job, received = current.job, current.received
        record = TurnRecord(job.jobId, self.clock.monotonic())
        self.turns.append(record)
        del self.turns[: -self.options.history]
        keeper = asyncio.create_task(self._keep_alive(received), name="turn-keepalive")
        try:
            if await asyncio.to_thread(
                self.conversations.has_message,
                self.user_id,
                job.conversationId,
                reply_id(job.jobId),
            ):
                log.info("job %s was answered before: acknowledging", job.jobId)
                record.outcome = "duplicate"
                await self._delete(received)
                return
            try:
                # The handler stored the person's message before queuing it; storing it
                # again (idempotent, fenced) is this task's proof that it may answer.
                for outcome in await asyncio.gather(
                    self._store(job.user_message()),
                    self.reporter.heartbeat(),
                    return_exceptions=True,
                ):
                    if isinstance(outcome, BaseException):
                        raise outcome
            except ConversationDeleted:
                log.info("job %s: its conversation was deleted; not answered", job.jobId)
                record.outcome = "deleted"
                await self._delete(received)
                return
            sink = self.sinks(job)
            starting = asyncio.ensure_future(sink.start())
            try:
                refused = await self.refusal() if self.refusal is not None else None
                if refused is not None:
                    log.info("job %s: not answered, the budget is spent", job.jobId)
                    error = ReplyError(code="budget_reached", message=refused, retryable=False)
                    answer = Answer(refused, error=error)
                    await starting
                else:
                    try:
                        answer = await self._converse(current, sink, record)
                    except GatewayError as exc:
                        if received.receive_count < self.options.last_delivery:
                            raise  # handed back below, for another try after a while
                        log.error(
                            "job %s: OpenClaw unreachable on its last delivery (%s); answering so",
                            job.jobId,
                            exc,
                        )
                        text, error = failures.unavailable(exc)
                        answer = Answer(text, error=error)
                    await starting
                    backup_started = self.clock.monotonic()
                    # The turn's spending is counted while its memory is backed up.
                    _, usage = await asyncio.gather(
                        self._backup_turn(job), self._meter_turn(current)
                    )
                    record.backup_s = round(self.clock.monotonic() - backup_started, 4)
                    answer = replace(answer, usage=usage)
                record.outcome = answer.outcome
                try:
                    await self._store(self._reply(job, answer))
                except ConversationDeleted:
                    log.info("job %s: the conversation was deleted meanwhile", job.jobId)
                    record.outcome = "deleted"
                await sink.finish(
                    answer.text, aborted=answer.aborted, error=answer.error, usage=answer.usage
                )
            finally:
                if not starting.done():
                    starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, OpenClawError):
                    await starting
                await sink.aclose()
            keeper.cancel()  # no visibility extension for a deleted message
            await self._delete(received)
            self.on_turn_done()
        except GatewayError as exc:
            # The gateway went away mid-turn: hand the job back for another try, later.
            delay = failures.retry_delay_s(
                received.receive_count,
                base_s=self.options.retry_base_s,
                cap_s=self.options.retry_cap_s,
            )
            log.warning(
                "turn %s interrupted (%s): job returns to the inbox in %d s", job.jobId, exc, delay
            )
            record.outcome = "released"
            await self._release(received, delay)
        except StorageUnavailable as exc:
            log.error("turn %s could not be stored (%s): job returns to the inbox", job.jobId, exc)
            record.outcome = "released"
            await self._release(received)
        except Fenced as exc:
            log.error("turn %s: %s; this task stops taking jobs", job.jobId, exc)
            record.outcome = "fenced"
            await self._release(received)
            self._fence(exc)
        except asyncio.CancelledError:
            record.outcome = "cancelled"
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(received))
            raise
        finally:
            record.ended = self.clock.monotonic()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self._current = None
            self._idle.set()

    def _reply(self, job: ChatJob, answer: Answer) -> Message:
        return Message(
            id=reply_id(job.jobId),
            conversationId=job.conversationId,
            role="assistant",
            text=answer.text,
            createdAt=max(self.clock.now(), job.receivedAt),
            source="agent",
            aborted=answer.aborted,
            inReplyTo=job.jobId,
            error=answer.error,
            usage=answer.usage,
        )

    async def _store(self, message: Message) -> bool:
        return await asyncio.to_thread(
            self.conversations.put_message, self.user_id, message, fence=self.launch_id
        )

    def _fence(self, exc: Fenced) -> None:
        if self.fenced is None:
            self.fenced = exc
            self.stop_receiving()
            self.on_fatal(exc)

    async def _meter_turn(self, current: _Current) -> MessageUsage | None:
        """The usage of the turn's model calls: the assistant messages its runs wrote, read
        from the session's history (the `chat` events carry none). Never fails the turn."""
        if self.meter is None or not current.run_ids:
            return None
        try:
            history = await self.gateway.chat_history(
                session_key(current.job.conversationId), limit=50
            )
        except OpenClawError as exc:
            log.warning("job %s: usage not read (%s)", current.job.jobId, exc)
            return None
        runs = set(current.run_ids)
        calls = [
            call
            for message in history
            if message.run_id in runs and (call := message.model_call()) is not None
        ]
        return await self.meter(calls)

    async def _backup_turn(self, job: ChatJob) -> None:
        """The turn's memory, backed up before the answer is acknowledged (bounded)."""
        backup = asyncio.ensure_future(self.backup())
        done, _ = await asyncio.wait({backup}, timeout=self.options.backup_timeout_s)
        if not done:
            log.warning(
                "job %s: the backup takes over %.0f s; answering anyway",
                job.jobId,
                self.options.backup_timeout_s,
            )
            backup.add_done_callback(self._late_backup)
            return
        error = backup.exception()
        if isinstance(error, Fenced):
            raise error
        if isinstance(error, OpenClawError):
            log.warning(
                "job %s: backup after the turn failed (%s); answering anyway", job.jobId, error
            )
        elif error is not None:
            raise error

    def _late_backup(self, backup: asyncio.Future[Any]) -> None:
        if backup.cancelled():
            return
        error = backup.exception()
        if isinstance(error, Fenced):
            self._fence(error)
        elif error is not None:
            log.warning("a late backup failed: %s", error)

    async def _converse(self, current: _Current, sink: ReplySink, record: TurnRecord) -> Answer:
        """One turn, exactly once, even when OpenClaw ran (part of) it by itself.

        The first send uses the job id as idempotency key, so OpenClaw recognises a job it
        already took. If the run ends empty, OpenClaw folded the message into a run of its
        own (its restart recovery answering the interrupted turn, or the remembered first
        attempt): the answer is read from the session's history. Only when there is none is
        the message sent again, under a fresh key.
        """
        job = current.job
        key = session_key(job.conversationId)
        activity = self.gateway.activity
        retried = current.received.receive_count > 1
        try:
            files = await self._files(job)
        except AttachmentMissing as exc:
            log.warning("job %s: %s", job.jobId, exc)
            error = ReplyError(code="attachment_missing", message=f"{exc}; send it again")
            return Answer(f"⚠️ {error.message}", error=error)
        try:
            # OpenClaw's restart recovery starts a moment after the gateway is ready; a retried
            # job gives it that moment, then waits for it like for any busy run.
            await activity.wait_quiet(
                key,
                settle_s=self.options.recovery_settle_s if retried else 0.0,
                timeout=self.options.quiet_timeout_s if retried else self.options.busy_wait_s,
            )
            if retried:
                # Answered before the job came back (a crash after the backup, or OpenClaw's
                # own recovery run), or about to be: OpenClaw answers once.
                recovered = await self._answer_from_recovery(job, key)
                if recovered:
                    log.info(
                        "job %s was answered by OpenClaw (before it came back or by its "
                        "recovery): using it",
                        job.jobId,
                    )
                    return Answer(self._noted(job, recovered))
            idempotency = job.jobId
            for attempt in range(1, self.options.fold_attempts + 1):
                text, aborted, beside = await self._run(
                    current, sink, record, key, idempotency, files
                )
                # An empty abort of a retried job is OpenClaw remembering the run the previous
                # task aborted while handing the job back, not the person pressing stop. An
                # empty answer to a fresh job with no other run beside it is the model's own.
                if text or (aborted and not retried and attempt == 1):
                    return Answer(self._noted(job, text), aborted)
                if not (retried or beside or attempt > 1):
                    return Answer(self._noted(job, NO_REPLY))
                await activity.wait_quiet(
                    key,
                    settle_s=self.options.recovery_settle_s,
                    timeout=self.options.quiet_timeout_s,
                )
                recovered = await self._answer_from_recovery(job, key)
                if recovered:
                    log.info("job %s was answered by OpenClaw's own run: using it", job.jobId)
                    return Answer(self._noted(job, recovered))
                log.warning(
                    "job %s: run %d ended empty and no run answered it; sending again",
                    job.jobId,
                    attempt,
                )
                idempotency = f"{job.jobId}:{uuid.uuid4().hex[:8]}"
            return Answer(NO_REPLY)
        except RunFailed as exc:
            log.warning("model error in turn %s: %s", job.jobId, exc)
            error = ReplyError(code="model_error", message=str(exc), retryable=True)
            return Answer(f"{MODEL_ERROR_PREFIX}{exc}", error=error)
        except MessageRefused as exc:
            log.warning("job %s: OpenClaw refused the message (%s): %s", job.jobId, exc.code, exc)
            text, error = failures.rejected(exc)
            return Answer(text, error=error)

    async def _files(self, job: ChatJob) -> list[dict[str, Any]]:
        """The job's attachments for `chat.send`, read from the store (`AttachmentMissing`
        when one is gone; `StorageUnavailable` hands the job back)."""
        if not job.attachments:
            return []
        if self.attachments is None:
            raise AttachmentMissing("this agent cannot read attachments")
        return await asyncio.to_thread(
            chat_attachments, self.attachments, self.user_id, job.attachments
        )

    def _noted(self, job: ChatJob, text: str) -> str:
        return with_notes(text, job.attachments, audio_understood=self.options.audio_understood)

    async def _answer_from_recovery(self, job: ChatJob, key: str) -> str | None:
        """The answer OpenClaw gave, or gives by itself, to a message it already took.

        A main-session message OpenClaw holds with no answer after it is its restart
        recovery's to answer (the session was marked at start-up; the run starts seconds
        later). That answer is awaited, up to `recovery_wait_s`, instead of sending the
        message again. None: OpenClaw does not hold the message (send it), or did not answer
        in time (send it again: an answer remembered twice beats none).
        """
        since_ms = int(job.receivedAt.timestamp() * 1000) - CLOCK_SLACK_MS
        activity = self.gateway.activity
        waited = 0.0
        while True:
            history = await self.gateway.chat_history(key, limit=50)
            answer = answer_in_history(history, job.text, since_ms)
            if answer:
                return answer
            if key != MAIN_SESSION_KEY or not held_unanswered(history, job.text, since_ms):
                return None
            if waited >= self.options.recovery_wait_s:
                log.warning(
                    "job %s: OpenClaw holds it unanswered and no recovery came in %.0f s",
                    job.jobId,
                    waited,
                )
                return None
            if waited == 0.0:
                log.info("job %s: OpenClaw holds it unanswered; awaiting its recovery", job.jobId)
            started = asyncio.get_running_loop().time()
            # Woken by a run starting or ending; a poll besides, for an answer without events.
            await activity.wait_change(min(RECOVERY_POLL_S, self.options.recovery_wait_s))
            await activity.wait_quiet(key, settle_s=0.0, timeout=self.options.quiet_timeout_s)
            waited += asyncio.get_running_loop().time() - started

    async def _run(
        self,
        current: _Current,
        sink: ReplySink,
        record: TurnRecord,
        key: str,
        idempotency: str,
        files: list[dict[str, Any]],
    ) -> tuple[str, bool, bool]:
        """(text, aborted, whether another run was busy in the session when ours ended)."""
        try:
            run = await self.gateway.chat_send(
                key, current.job.text, idempotency_key=idempotency, attachments=files
            )
        except GatewayError as exc:
            refused = failures.refusal(exc)
            if refused is not None:
                raise refused from exc
            raise
        current.run = run
        current.run_ids.append(run.run_id)
        self.run_ids.add(run.run_id)
        async for event in run:
            if isinstance(event, RunDelta):
                if record.first_text is None:
                    record.first_text = self.clock.monotonic()
                await sink.update(event.update.text)
            elif isinstance(event, RunEnd):
                beside = self.gateway.activity.busy_runs(key) - {run.run_id}
                return event.text, event.aborted, bool(beside)
        raise GatewayError("the run ended without a final event")  # pragma: no cover

    async def _keep_alive(self, received: ReceivedJob) -> None:
        """Keep the job invisible and the task visibly busy while the turn runs."""
        last_beat = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.options.extend_every_s)
            try:
                await asyncio.to_thread(
                    self.consumer.change_visibility,
                    received.receipt_handle,
                    self.options.visibility_s,
                )
                if self.clock.monotonic() - last_beat >= self.options.heartbeat_every_s:
                    await self.reporter.heartbeat()
                    last_beat = self.clock.monotonic()
            except StorageUnavailable as exc:
                log.warning("keep-alive failed: %s", exc)
            except Fenced as exc:
                log.error("keep-alive: %s", exc)
                if self._current is not None and self._current.task is not None:
                    self._current.task.cancel()  # its job goes back to the inbox
                self._fence(exc)
                return

    async def _delete(self, received: ReceivedJob) -> None:
        try:
            await asyncio.to_thread(self.consumer.delete, received.receipt_handle)
        except StorageUnavailable as exc:
            # Not fatal: the job comes back and is recognised as answered.
            log.warning("could not delete job %s: %s", received.message_id, exc)

    async def _release(self, received: ReceivedJob, delay_s: int = 0) -> None:
        try:
            await asyncio.to_thread(
                self.consumer.change_visibility, received.receipt_handle, delay_s
            )
        except StorageUnavailable as exc:
            log.warning("could not release job %s: %s", received.message_id, exc)

    # --- control ---------------------------------------------------------------------------
    async def abort(self, conversation_id: str | None = None) -> bool:
        current = self._current
        if current is None or current.run is None:
            return False
        if conversation_id and conversation_id != current.job.conversationId:
            return False
        await self.gateway.chat_abort(current.run.session_key, current.run.run_id)
        return True

    def stop_receiving(self) -> None:
        self._stopping.set()

    async def drain(self, timeout: float) -> bool:
        """Wait for the running turn; past `timeout`, abort it and hand its job back."""
        current = self._current
        if current is None or current.task is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(self._idle.wait()), timeout)
            return True
        except TimeoutError:
            log.warning(
                "turn %s did not finish in %.0f s: handing it back", current.job.jobId, timeout
            )
            current.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await current.task
            return False
