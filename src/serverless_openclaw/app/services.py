"""The control plane's shared operations and the container of what they need.

`Services` is built lazily, once per Lambda container, from `settings.HandlerSettings`
(`current()`); each client and store is created on first use, so `ws_disconnect` never pays
for ECS. The operations below are what every entry point does — the WebSocket handlers, the
HTTP API, the watchdog, and the Telegram webhook (written elsewhere) all call these:

- `submit_chat_job(services, job)`: deduplicate, rate-limit, store the user's message, queue
  the job durably, then wake the agent. Returns once the job is in the inbox (= ack).
- `wake(services, user_id, reason)`: start the agent through the state machine; at most one
  caller launches a task, whatever the concurrency.
- `stop` / `restart` / `send_control` / `agent_status` / `push_status`.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final, Literal

from serverless_openclaw.app.attachments import resolve
from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.app.spending import Spending
from serverless_openclaw.contracts.frames import AckFrame, SendFrame, StatusFrame, UserMessageFrame
from serverless_openclaw.contracts.jobs import ChatJob, ControlCommand, ControlJob, WebReplyTo
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import AgentStatus, Message
from serverless_openclaw.core.errors import (
    Conflict,
    StorageUnavailable,
    TransitionRejected,
    Unauthorized,
)
from serverless_openclaw.core.quotas import check_message_rate, minute_window
from serverless_openclaw.core.task_state import (
    RequestStop,
    SetWakePending,
    TaskState,
    Wake,
)
from serverless_openclaw.core.wake import WakeDecision, decide_wake
from serverless_openclaw.ports.attachments import AttachmentStore
from serverless_openclaw.ports.compute import Compute, LaunchSpec
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.ports.identity import Caller, TokenVerifier
from serverless_openclaw.ports.inbox import Inbox
from serverless_openclaw.ports.push import ConnectionsApi
from serverless_openclaw.ports.secrets import SecretReader
from serverless_openclaw.ports.stores import (
    ConnectionStore,
    ConversationStore,
    CounterStore,
    SettingsStore,
    TaskStates,
    TelegramStore,
)
from serverless_openclaw.settings import HandlerSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from serverless_openclaw.telegram.bot_api import BotClients

log = logging.getLogger(__name__)

DEDUPE_TTL: Final = timedelta(hours=24)
"""A client resending an accepted message id within this window gets the same ack."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Everything the handlers use. Each port comes from the adapter family's factory on
    first use (a handler that never starts a task never builds an ECS client); pass
    `compute`, `connections_api` or `verifier` to replace one (the dev stack and tests)."""

    def __init__(
        self,
        settings: HandlerSettings,
        ports: PortFactory,
        *,
        compute: Compute | None = None,
        connections_api: ConnectionsApi | None = None,
        verifier: TokenVerifier | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.ports = ports
        self.clock = clock
        self._compute = compute
        self._connections_api = connections_api
        self._verifier = verifier

    @property
    def prefix(self) -> str:
        return self.settings.names.prefix

    @cached_property
    def connections(self) -> ConnectionStore:
        return self.ports.connections()

    @cached_property
    def task_state(self) -> TaskStates:
        return self.ports.task_state()

    @cached_property
    def conversations(self) -> ConversationStore:
        return self.ports.conversations()

    @cached_property
    def user_settings(self) -> SettingsStore:
        return self.ports.user_settings()

    @cached_property
    def counters(self) -> CounterStore:
        return self.ports.counters()

    @cached_property
    def spending(self) -> Spending:
        return Spending(self.counters, clock=self.clock)

    @cached_property
    def telegram(self) -> TelegramStore:
        return self.ports.telegram()

    @cached_property
    def inbox(self) -> Inbox:
        return self.ports.inbox()

    @cached_property
    def attachments(self) -> AttachmentStore:
        return self.ports.attachments()

    @cached_property
    def secrets(self) -> SecretReader:
        return self.ports.secrets()

    @cached_property
    def compute(self) -> Compute:
        return self._compute if self._compute is not None else self.ports.compute()

    @cached_property
    def idempotency(self) -> BasePersistenceLayer:
        return self.ports.idempotency()

    @cached_property
    def connections_api(self) -> ConnectionsApi | None:
        """API Gateway's @connections (None when no push endpoint is configured)."""
        return self._connections_api or self.ports.connections_api()

    @cached_property
    def broadcaster(self) -> Broadcaster | None:
        """None when no push endpoint is configured (pushes are then skipped)."""
        api = self.connections_api
        return Broadcaster(self.connections, api) if api is not None else None

    @cached_property
    def telegram_bots(self) -> BotClients:
        """Bot API clients for the webhook's replies and the bot's notices, on the configured
        base URL; imported and built on first use, so the other handlers never load them."""
        from serverless_openclaw.telegram.bot_api import HANDLER_TIMEOUT, BotClients

        return BotClients(
            base_url=self.settings.telegram.telegram_api_base, timeout=HANDLER_TIMEOUT
        )

    def close(self) -> None:
        """Close the connections this container opened itself (the Bot API pool). The ports'
        own (a database, push clients) belong to whoever built the factory."""
        bots: BotClients | None = self.__dict__.pop("telegram_bots", None)
        if bots is not None:
            bots.close()

    @cached_property
    def verifier(self) -> TokenVerifier:
        """Verifies tokens offline (signature, expiry, issuer, audience), then refuses those
        of a person removed since they were issued (`revoked#<sub>`, app/people.py)."""
        inner = self._verifier if self._verifier is not None else self.ports.verifier()
        return _UnlessRevoked(inner, self)


# --- removed people --------------------------------------------------------------------------
def revoked_key(user_id: str) -> str:
    """The marker that refuses a removed person's remaining tokens (app/people.py)."""
    return f"revoked#{user_id}"


def is_revoked(services: Services, user_id: str) -> bool:
    """True while the person's remaining tokens must be refused (they were removed)."""
    return services.counters.is_marked(revoked_key(user_id), now=services.clock())


def refuse_revoked(services: Services, user_id: str) -> None:
    """`Unauthorized` for a removed person's token (still valid until it expires: API
    Gateway's JWT authorizer and ws_connect check tokens offline)."""
    if is_revoked(services, user_id):
        raise Unauthorized("this account was removed")


class _UnlessRevoked:
    def __init__(self, inner: TokenVerifier, services: Services) -> None:
        self._inner = inner
        self._services = services

    def verify(self, token: str | None) -> Caller:
        caller = self._inner.verify(token)
        refuse_revoked(self._services, caller.user_id)
        return caller


# --- status --------------------------------------------------------------------------------
def agent_status(services: Services, user_id: str) -> AgentStatus:
    return services.task_state.get(user_id).to_status()


def status_frame(state: TaskState) -> StatusFrame:
    return StatusFrame(agent=state.state, phase=state.phase)


def push_status(services: Services, state: TaskState) -> None:
    """Tell every open tab of the user what the agent is doing (best effort)."""
    if services.broadcaster is None:
        return
    try:
        services.broadcaster.send(state.user_id, status_frame(state))
    except StorageUnavailable as exc:
        log.warning("status push failed: %s", exc)


def push_user_message(services: Services, user_id: str, message: Message) -> None:
    """Show a stored question in every open tab of the person (best effort): the other tabs,
    and the web page while they write from Telegram."""
    if services.broadcaster is None or message.source == "agent":
        return
    frame = UserMessageFrame(
        id=message.id,
        conversationId=message.conversationId,
        text=message.text,
        source=message.source,
        createdAt=message.createdAt,
        attachments=message.attachments,
    )
    try:
        services.broadcaster.send(user_id, frame)
    except StorageUnavailable as exc:
        log.warning("user message push failed: %s", exc)


# --- lifecycle -----------------------------------------------------------------------------
def new_launch_id() -> str:
    return uuid.uuid4().hex


def wake(services: Services, user_id: str, reason: str) -> TaskState:
    """Make sure the agent is (or will be) running; returns the state afterwards.

    Idle -> Starting is one conditional write: of many concurrent callers exactly one wins
    and calls RunTask, the others see Starting and return. `QuotaExceeded` when today's
    task hours are used up; `StorageUnavailable` when the task could not be started (the
    row is back to Idle with `lastError`).
    """
    now = services.clock()
    state = services.task_state.get(user_id)
    decision = decide_wake(
        state, now, task_hours_per_day=services.settings.quotas.task_hours_per_day
    )
    if decision is WakeDecision.ALREADY_AWAKE:
        return state
    if decision is WakeDecision.AFTER_STOP:
        try:
            return services.task_state.transition(user_id, SetWakePending(now))[1]
        except TransitionRejected:
            return services.task_state.get(user_id)
    launch_id = new_launch_id()
    try:
        _, state = services.task_state.transition(user_id, Wake(launch_id, now))
    except TransitionRejected:
        return services.task_state.get(user_id)  # someone else is starting it
    log.info("starting agent", extra={"user_id": user_id, "reason": reason, "launch_id": launch_id})
    push_status(services, state)
    try:
        queue_url = services.inbox.queue_url(user_id)
        arn = services.compute.run_task(
            LaunchSpec(user_id, launch_id, queue_url, wake_reason=reason)
        )
    except StorageUnavailable as exc:
        try:
            failed = services.task_state.record_launch_failure(user_id, launch_id, str(exc))
            push_status(services, failed)
        except TransitionRejected:
            pass
        raise
    try:
        return services.task_state.record_launch(user_id, launch_id, arn)
    except TransitionRejected:
        # The launch was given up on (the watchdog) before RunTask answered: stop the task
        # rather than leave it running unowned.
        services.compute.stop_task(arn, "launch superseded")
        return services.task_state.get(user_id)


def stop(services: Services, user_id: str, reason: str, *, error: str | None = None) -> TaskState:
    """Starting/Running -> Stopping, then StopTask. Idle or stopping: nothing to do."""
    now = services.clock()
    try:
        _, state = services.task_state.transition(
            user_id, RequestStop(now, reason=reason, error=error)
        )
    except TransitionRejected:
        return services.task_state.get(user_id)
    if state.task_arn:
        services.compute.stop_task(state.task_arn, reason)
    push_status(services, state)
    return state


def send_control(
    services: Services,
    user_id: str,
    command: ControlCommand,
    conversation_id: str | None = None,
) -> ControlJob:
    """Queue a control job; it travels in the user's control group, so it is not stuck
    behind the chat turn it is about."""
    job = ControlJob(
        jobId=f"ctl-{secrets.token_hex(12)}",
        userId=user_id,
        command=command,
        conversationId=conversation_id,
        receivedAt=services.clock(),
    )
    services.inbox.send(job)
    return job


def restart(services: Services, user_id: str) -> TaskState:
    """Running: the agent restarts OpenClaw in place. Idle: start it. Otherwise unchanged."""
    state = services.task_state.get(user_id)
    if state.state == "running":
        send_control(services, user_id, "restart")
        return state
    if state.state == "idle":
        return wake(services, user_id, "restart")
    return state


def request_backup(services: Services, user_id: str) -> ControlJob:
    state = services.task_state.get(user_id)
    if state.state != "running":
        raise Conflict("the agent is not running; its state was saved when it stopped")
    return send_control(services, user_id, "backup")


# --- chat ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submitted:
    job: ChatJob
    duplicate: bool
    """The job id was accepted before: not queued again."""
    state: TaskState | None
    """The agent's state after waking it (None for duplicates or when the wake failed)."""
    wake_error: str | None = None


def _dedupe_key(job: ChatJob) -> str:
    return f"job#{job.userId}#{job.jobId}"


def submit_chat_job(services: Services, job: ChatJob) -> Submitted:
    """Hand a person's message to their agent: returns once it is durably queued.

    Order matters: the message is queued before the dedupe marker is set, so a crash in
    between makes a resend queue it again (SQS drops the copy within 5 minutes), never lose
    it. Raises `QuotaExceeded` (messages per minute, or task hours when the agent is not
    running), `BudgetReached` (an LLM budget is used up and chat stops with it),
    `StorageUnavailable`.
    """
    now = services.clock()
    if services.counters.is_marked(_dedupe_key(job), now=now):
        return Submitted(job=job, duplicate=True, state=None)
    quotas = services.settings.quotas
    window = minute_window(now)
    count = services.counters.increment(
        f"rate#msg#{job.userId}#{window}", expires_at=now + timedelta(minutes=5)
    )
    check_message_rate(count, quotas.messages_per_minute, now)
    # A spent budget refuses the message before anything is stored or woken.
    services.spending.check_chat(job.userId, services.user_settings.get(job.userId), now)
    state = services.task_state.get(job.userId)
    decide_wake(state, now, task_hours_per_day=quotas.task_hours_per_day)  # quota before queuing
    stored = job.user_message()
    services.conversations.put_message(job.userId, stored)
    # Shown before it is queued, so that the agent's reply cannot reach a tab before it.
    push_user_message(services, job.userId, stored)
    services.inbox.send(job)
    services.counters.mark(_dedupe_key(job), expires_at=now + DEDUPE_TTL, now=now)
    try:
        woken = wake(services, job.userId, f"{job.source} message")
    except StorageUnavailable as exc:
        log.warning("agent did not start; the message stays queued: %s", exc)
        return Submitted(job=job, duplicate=False, state=None, wake_error=str(exc))
    return Submitted(job=job, duplicate=False, state=woken)


def chat_job_from_frame(
    services: Services, user_id: str, frame: SendFrame, source: Literal["web"] = "web"
) -> ChatJob:
    """The job of a browser's message; the attachments it names must be uploaded
    (`AttachmentMissing` otherwise) and are listed as the store holds them."""
    return ChatJob(
        jobId=frame.id,
        userId=user_id,
        source=source,
        conversationId=frame.conversationId or MAIN_CONVERSATION_ID,
        text=frame.text,
        replyTo=WebReplyTo(),
        receivedAt=services.clock(),
        attachments=resolve(services, user_id, frame.attachments),
    )


def submit_chat(services: Services, user_id: str, frame: SendFrame) -> AckFrame:
    """A browser's `send` frame -> the ack frame."""
    submitted = submit_chat_job(services, chat_job_from_frame(services, user_id, frame))
    return AckFrame(id=frame.id, conversationId=submitted.job.conversationId)
