"""The agent's unit-test rig: the memory adapters, the fake gateway and a hand-driven clock.

Nothing here starts Node, a socket or a thread of our own: the bridge, the scheduler and the
supervisor run exactly as in a task, against `MemoryPorts` (the deployment's storage) and a
`FakeGateway` (OpenClaw). Time that matters (debounces, coalescing, visibility timeouts)
moves only when a test moves the `ManualClock`; real-time waits are bounded polls for work
done in worker threads.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.bridge import Bridge, BridgeOptions
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.delivery import ReplySinks, ShownReplies
from serverless_openclaw.agent.openclaw.fake import FakeGateway
from serverless_openclaw.agent.reporter import AgentReporter
from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, WebReplyTo
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.task_state import Launched, MarkRunning, Stopped, Wake
from serverless_openclaw.telegram.bot_api import AsyncTelegramApi

USER = "u-alice"
BROWSER = "conn-1"
FAST = BridgeOptions(
    receive_wait_s=1,
    busy_receive_wait_s=1,
    recovery_settle_s=0.05,
    quiet_timeout_s=5.0,
    recovery_wait_s=1.0,
    busy_wait_s=5.0,
    backup_timeout_s=2.0,
    receive_retry_s=0.05,
    retry_base_s=0.0,
)
"""Real-time bounds small enough for tests (the clock-driven ones are moved by hand)."""


async def until(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `check` (sync or async) until truthy; for work done in worker threads."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.01)


def launch(ports: MemoryPorts, user: str = USER) -> str:
    """What the control plane does before RunTask, then the task marking itself running:
    the row names a fresh launch, Running."""
    states = ports.task_state()
    now = ports.clock()
    row = states.get(user)
    if row.active:
        states.transition(user, Stopped(row.launch_id, now))
    launch_id = uuid.uuid4().hex
    states.transition(user, Wake(launch_id, now))
    states.transition(user, Launched(launch_id, f"arn:task/{launch_id[:8]}", now))
    return launch_id


def running(ports: MemoryPorts, user: str = USER) -> str:
    launch_id = launch(ports, user)
    ports.task_state().transition(user, MarkRunning(launch_id, ports.clock()))
    return launch_id


def chat_job(
    text: str,
    *,
    at: datetime,
    conversation_id: str = MAIN_CONVERSATION_ID,
    job_id: str | None = None,
    user: str = USER,
) -> ChatJob:
    return ChatJob(
        jobId=job_id or uuid.uuid4().hex,
        userId=user,
        source="web",
        conversationId=conversation_id,
        text=text,
        replyTo=WebReplyTo(),
        receivedAt=at,
    )


def frames(ports: MemoryPorts, connection: str = BROWSER) -> list[dict[str, Any]]:
    assert ports.push is not None
    return ports.push.frames(connection)


def stream_ends(ports: MemoryPorts, job_id: str) -> list[dict[str, Any]]:
    return [f for f in frames(ports) if f.get("type") == "stream_end" and f.get("id") == job_id]


def messages(ports: MemoryPorts, conversation: str = MAIN_CONVERSATION_ID) -> list[Message]:
    return ports.conversations().list_messages(USER, conversation, limit=100).items


@dataclass
class BridgeRig:
    """One user's bridge, as a task runs it, with what it did recorded."""

    ports: MemoryPorts
    clock: ManualClock
    gateway: FakeGateway
    launch_id: str
    queue_url: str
    options: BridgeOptions = FAST
    backup_calls: list[dict[str, Any]] = field(default_factory=list)
    backup_error: BaseException | None = None
    backup_hangs: asyncio.Event | None = None
    fatal: list[BaseException] = field(default_factory=list)
    controls: list[ControlJob] = field(default_factory=list)
    telegram: AsyncTelegramApi | None = None
    """The Bot API the replies to Telegram jobs go to (None: no Telegram)."""
    bridge: Bridge | None = None
    _task: asyncio.Task[None] | None = None

    async def backup(self) -> None:
        """Records what was stored when the backup ran (the answer must not be yet)."""
        self.backup_calls.append({"messages": [m.id for m in messages(self.ports)]})
        if self.backup_hangs is not None:
            await self.backup_hangs.wait()
        if self.backup_error is not None:
            raise self.backup_error

    def build(self) -> Bridge:
        api = self.ports.connections_api()
        broadcaster = Broadcaster(self.ports.connections(), api) if api is not None else None
        reporter = AgentReporter(
            self.ports.task_state(), broadcaster, user_id=USER, launch_id=self.launch_id
        )
        sinks = ReplySinks(
            user_id=USER,
            connections=self.ports.connections(),
            broadcaster=broadcaster,
            telegram=self.telegram,
            telegram_links=self.ports.telegram(),
            shown=ShownReplies(self.ports.task_state(), user_id=USER, launch_id=self.launch_id),
            clock=self.clock,
        )

        async def on_control(job: ControlJob) -> None:
            self.controls.append(job)

        self.bridge = Bridge(
            user_id=USER,
            launch_id=self.launch_id,
            consumer=self.ports.inbox_consumer(self.queue_url),
            gateway=self.gateway,
            conversations=self.ports.conversations(),
            reporter=reporter,
            sinks=sinks.for_job,
            backup=self.backup,
            on_turn_done=lambda: None,
            on_control=on_control,
            on_fatal=self.fatal.append,
            options=self.options,
            clock=self.clock,
            attachments=self.ports.attachments(),
        )
        return self.bridge

    def start(self) -> Bridge:
        bridge = self.build()
        self._task = asyncio.create_task(bridge.run())
        return bridge

    def send(self, text: str, **kwargs: Any) -> ChatJob:
        job = chat_job(text, at=self.clock.now(), **kwargs)
        self.ports.inbox().send(job)
        return job

    async def answered(self, job: ChatJob, *, timeout: float = 10.0) -> Message:
        def reply() -> Message | None:
            return next(
                (m for m in messages(self.ports, job.conversationId) if m.inReplyTo == job.jobId),
                None,
            )

        found: Message = await until(reply, timeout=timeout, what=f"a reply to {job.text!r}")
        return found

    def depth(self) -> int:
        return self.ports.inbox().depth(USER)

    async def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop_receiving()
            await self.bridge.drain(5)
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ports(clock: ManualClock) -> MemoryPorts:
    memory = MemoryPorts(clock=clock.now)
    memory.connections().put(BROWSER, USER, clock.now())
    return memory


def fake_gateway(clock: ManualClock, **kwargs: Any) -> FakeGateway:
    """OpenClaw stamps its history with the same (hand-driven) time as everything else."""
    return FakeGateway(clock_ms=lambda: int(clock.now().timestamp() * 1000), **kwargs)


@pytest.fixture
async def gateway(clock: ManualClock) -> FakeGateway:
    fake = fake_gateway(clock)
    await fake.boot()
    return fake


@pytest.fixture
async def rig(ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway):  # type: ignore[no-untyped-def]
    made = BridgeRig(
        ports=ports,
        clock=clock,
        gateway=gateway,
        launch_id=running(ports),
        queue_url=ports.inbox().queue_url(USER),
    )
    yield made
    await made.stop()
    await gateway.shutdown()
