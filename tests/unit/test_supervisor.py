"""The whole agent task in-process: the supervisor with the memory adapters and the fake
OpenClaw host (no Node, no sockets): start-up phases, a turn, the documented shutdown order,
fencing, restore failures, a gateway crash, and a task that died between backing up a turn
and storing its answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.openclaw.fake import Crash, FakeGatewayProcess, FakeOpenClaw
from serverless_openclaw.agent.supervisor import START_PHASES, Supervisor, SupervisorOptions
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.core.snapshot import Manifest
from serverless_openclaw.core.task_state import RequestStop, TaskState
from serverless_openclaw.ports.stores import TaskStates
from serverless_openclaw.settings import AgentSettings, ModelSettings

from .conftest import (
    FAST,
    USER,
    chat_job,
    fake_gateway,
    frames,
    launch,
    messages,
    stream_ends,
    until,
)

OPTIONS = SupervisorOptions(
    restore_backoff=(0.0, 0.0),
    restart_backoff=(0.0, 0.0),
    ready_timeout_s=5,
    connect_timeout_s=5,
    schedule_timeout_s=5,
    final_backup_timeout_s=5,
    bridge=FAST,
)


# --- recording the calls the supervisor makes ----------------------------------------------
class RecordingRows:
    """Task-state rows that note every write (what the control plane would see change)."""

    def __init__(self, rows: Any, log: list[str]) -> None:
        self._rows = rows
        self._log = log

    def get(self, user_id: str) -> TaskState:
        row: TaskState = self._rows.get(user_id)
        return row

    def scan(self) -> Iterator[TaskState]:
        return iter(self._rows.scan())

    def write(self, old: TaskState, new: TaskState) -> TaskState:
        written: TaskState = self._rows.write(old, new)
        if old.state != new.state:
            self._log.append(f"row {new.state}")
        return written

    def update_own(self, user_id: str, launch_id: str, changes: dict[str, Any]) -> None:
        self._rows.update_own(user_id, launch_id, changes)
        names = sorted(changes) or ["(fence check)"]
        self._log.append("row " + ",".join(names))


class RecordingBlobs:
    def __init__(self, blobs: Any, log: list[str]) -> None:
        self._blobs = blobs
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blobs, name)

    def write_manifest(self, manifest: Manifest) -> str | None:
        version: str | None = self._blobs.write_manifest(manifest)
        self._log.append("backup manifest")
        return version


@dataclass
class Deployment:
    """The deployment's storage (memory adapters), seen through recording wrappers."""

    memory: MemoryPorts
    log: list[str] = field(default_factory=list)
    conversations_wrapper: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.memory, name)

    def task_state(self) -> TaskStates:
        return TaskStates(RecordingRows(self.memory.task_rows, self.log), clock=self.memory.clock)

    def state_blobs(self, prefix: str) -> Any:
        return RecordingBlobs(self.memory.state_blobs(prefix), self.log)

    def conversations(self) -> Any:
        store = self.memory.conversations()
        return self.conversations_wrapper(store) if self.conversations_wrapper else store


@dataclass
class Task:
    """One agent task: a supervisor and its fake OpenClaw, running `lifecycle()`."""

    supervisor: Supervisor
    openclaw: FakeOpenClaw
    main: asyncio.Task[int] | None = None

    def start(self) -> Task:
        self.main = asyncio.create_task(self.supervisor.lifecycle())
        return self

    async def running(self) -> None:
        await until(lambda: self.supervisor.status()["running"] or self._ended(), what="running")
        assert not self._ended(), self.supervisor.failure

    def _ended(self) -> bool:
        return self.main is not None and self.main.done()

    async def stop(self, reason: str = "test") -> int:
        self.supervisor.request_stop(reason)
        return await self.exit_code()

    async def exit_code(self) -> int:
        assert self.main is not None
        return await asyncio.wait_for(self.main, 20)


def new_task(
    deployment: Deployment,
    clock: ManualClock,
    tmp_path: Path,
    launch_id: str,
    *,
    name: str = "task-a",
) -> Task:
    settings = AgentSettings(
        user_id=USER,
        inbox_queue_url=deployment.memory.inbox().queue_url(USER),
        state_prefix=f"agents/{USER}/",
        work_dir=tmp_path / name,
        agent_state_root=tmp_path / name / "agents",
        task_id=launch_id,
        health_port=0,
        gateway_port=0,
        prewarm_port=0,
        sync_interval_seconds=3600,
        drain_seconds=2,
        model=ModelSettings(model_provider="offline", model_base_url="http://127.0.0.1:9/v1"),
    )
    openclaw = FakeOpenClaw(fake_gateway(clock))
    supervisor = Supervisor(settings, deployment, openclaw=openclaw, clock=clock, options=OPTIONS)
    return Task(supervisor, openclaw)


@pytest.fixture
def deployment(ports: MemoryPorts) -> Deployment:
    return Deployment(ports)


def statuses(ports: MemoryPorts) -> list[tuple[str, str | None]]:
    return [(f["agent"], f.get("phase")) for f in frames(ports) if f["type"] == "status"]


# --- start-up and shutdown -----------------------------------------------------------------
async def test_start_up_phases_are_shown_in_order_then_running(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    task = new_task(deployment, clock, tmp_path, launch(deployment.memory)).start()
    await task.running()

    assert statuses(deployment.memory) == [
        *(("starting", phase) for phase in START_PHASES),
        ("running", None),
    ]
    row = deployment.memory.task_state().get(USER)
    assert (row.state, row.phase) == ("running", "ready")
    # No up-front validate (a second Node start): the gateway refuses a bad config itself.
    assert task.openclaw.calls[:4] == ["install", "process", "gateway boot", "client"]
    assert (tmp_path / "task-a" / "agents" / USER / "openclaw-state" / "openclaw.json").exists()
    assert await task.stop() == 0


async def test_shutdown_runs_in_the_documented_order(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports)).start()
    await task.running()
    job = chat_job("remember the milk", at=clock.now())
    ports.inbox().send(job)
    await until(lambda: ports.inbox().depth(USER) == 0, what="the turn")
    deployment.log.clear()
    task.openclaw.calls.clear()
    task.openclaw.calls = deployment.log  # one timeline for the host, the rows and the blobs
    task.openclaw.gateway.log = deployment.log

    assert await task.stop("idle timeout") == 0

    steps = [s for s in deployment.log if not s.startswith("row last_activity")]
    assert steps == [
        "row stopping",  # stop taking jobs, say so (the row, the browsers)
        "row next_wake_at,next_wake_job",  # the schedule, for the watchdog
        "client close",  # then OpenClaw stops, its files consistent
        "gateway stop",
        "row last_backup_at,last_backup_bytes,last_backup_manifest",  # the final backup
        "row idle",
    ], deployment.log
    assert statuses(ports)[-2:] == [("stopping", None), ("idle", None)]


async def test_a_turn_through_the_task_is_backed_up_before_it_is_acknowledged(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports)).start()
    await task.running()
    deployment.log.clear()
    job = chat_job("my cat is called Miso", at=clock.now())
    ports.inbox().send(job)
    await until(lambda: ports.inbox().depth(USER) == 0, what="the job acknowledged")

    reply = next(m for m in messages(ports) if m.inReplyTo == job.jobId)
    assert reply.text == task.openclaw.gateway.answer(job.text)
    committed = deployment.log.index("row last_backup_at,last_backup_bytes,last_backup_manifest")
    assert deployment.log.index("backup manifest") < committed
    row = ports.task_state().get(USER)
    assert row.last_backup_manifest is not None, "the row names the backup to restore"
    assert await task.stop() == 0


@dataclass
class StopPressedWhileStarting(FakeOpenClaw):
    """The person presses stop while the agent configures (the row goes to Stopping)."""

    ports: Any = None

    async def install(self) -> None:
        self.ports.task_state().transition(USER, RequestStop(self.ports.clock(), reason="stop"))
        await super().install()


async def test_stop_pressed_while_starting_ends_idle_without_an_error(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports))
    host = StopPressedWhileStarting(task.openclaw.gateway, ports=ports)
    task.supervisor.openclaw = task.openclaw = host
    task.start()

    assert await task.exit_code() == 0
    row = ports.task_state().get(USER)
    assert (row.state, row.last_error) == ("idle", None)
    assert statuses(ports)[-1] == ("idle", None)


class NeverReady(FakeGatewayProcess):
    """A gateway still starting until it is stopped (a real cold start is ~10 s of CPU)."""

    async def wait_ready(self, timeout: float = 120.0) -> float:
        await asyncio.Event().wait()
        return 0.0


class SlowToStart(FakeOpenClaw):
    def process(self, *, state_dir: Path, **_: Any) -> FakeGatewayProcess:
        self.process_handle = NeverReady(self.gateway, state_dir)
        return self.process_handle


async def test_a_stop_while_openclaw_starts_stops_it_unready_and_keeps_the_last_backup(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    """A page that woke the agent and closed, or the stop button: the stop does not wait for
    OpenClaw's start, and writes no backup (nothing ran since the restore)."""
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports))
    host = SlowToStart(task.openclaw.gateway)
    task.supervisor.openclaw = task.openclaw = host
    task.start()
    await until(lambda: host.process_handle is not None, what="OpenClaw starting")
    deployment.log.clear()

    assert await task.stop("SIGTERM") == 0
    assert host.process_handle is not None
    assert host.process_handle.stops == 1, "OpenClaw was stopped, not left starting"
    assert "backup manifest" not in deployment.log, deployment.log
    row = ports.task_state().get(USER)
    assert (row.state, row.last_error) == ("idle", None)
    assert statuses(ports)[-2:] == [("stopping", None), ("idle", None)]


# --- fencing -------------------------------------------------------------------------------
async def test_a_fenced_task_stops_and_writes_nothing(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports)).start()
    await task.running()
    launch(ports)  # the control plane moved on (a partition, a restarted stack...)
    current = ports.task_state().get(USER)
    deployment.log.clear()
    pushed = len(frames(ports))
    job = chat_job("are you there?", at=clock.now())
    ports.inbox().send(job)

    assert await task.exit_code() == 0
    assert task.supervisor.fenced is not None
    assert ports.task_state().get(USER) == current, "the current launch's row is untouched"
    assert [s for s in deployment.log if s.startswith(("row", "backup"))] == []
    assert frames(ports)[pushed:] == [], "the browsers heard nothing from the orphan"
    assert messages(ports) == []
    assert task.openclaw.gateway.sent == []
    assert ports.inbox().depth(USER) == 1, "the job waits for the current task"


# --- restore -------------------------------------------------------------------------------
class Unreachable:
    """A blob store that cannot be reached (S3 down, no permission)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise StorageUnavailable("state bucket: connection refused")

        return fail


async def test_an_unreachable_backup_is_retried_then_the_task_fails_without_starting_openclaw(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    deployment.state_blobs = lambda prefix: Unreachable()  # type: ignore[method-assign]
    task = new_task(deployment, clock, tmp_path, launch(ports)).start()

    assert await task.exit_code() == 1
    assert "could not be read" in (task.supervisor.failure or "")
    assert "nothing can overwrite your backup" in (task.supervisor.failure or "")
    assert task.openclaw.calls == [], "OpenClaw never started on an empty state"
    row = ports.task_state().get(USER)
    assert row.state == "idle"
    assert "could not be read" in (row.last_error or "")


async def test_a_corrupt_named_backup_stops_the_start_and_is_never_overwritten(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    first = new_task(deployment, clock, tmp_path, launch(ports)).start()
    await first.running()
    assert await first.stop() == 0
    named = ports.task_state().get(USER).last_backup_manifest
    assert named is not None
    blobs = ports.state_blobs(f"agents/{USER}/")
    for key, versions in ports.blobs.versions.items():  # the named manifest is damaged
        if key == blobs.manifest_key:
            versions[:] = [(v, b"{not json" if v == named else d) for v, d in versions]
    before = {k: len(v) for k, v in ports.blobs.versions.items()}

    second = new_task(deployment, clock, tmp_path, launch(ports), name="task-b").start()

    assert await second.exit_code() == 1
    assert "did not start" in (second.supervisor.failure or "")
    assert {k: len(v) for k, v in ports.blobs.versions.items()} == before, "nothing uploaded"


# --- crashes -------------------------------------------------------------------------------
async def test_openclaw_crashing_mid_reply_is_restarted_and_the_message_answered_once(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    task = new_task(deployment, clock, tmp_path, launch(ports)).start()
    await task.running()
    task.openclaw.gateway.script("long story", Crash(partial="Once upon"))
    job = chat_job("tell me a long story", at=clock.now())
    ports.inbox().send(job)

    await until(lambda: ports.inbox().depth(USER) == 0, what="the job acknowledged")

    gateway = task.openclaw.gateway
    assert task.supervisor.gateway_restarts == 1
    assert gateway.log.count("gateway crash") == 1
    assert gateway.log.count("gateway boot") == 2, "the monitor started it again"
    assert len(gateway.turns(job.text)) == 1, "OpenClaw was asked once"
    [reply] = [m for m in messages(ports) if m.role == "assistant"]
    assert reply.text == gateway.answer(job.text)
    assert [e["text"] for e in stream_ends(ports, job.jobId)] == [reply.text]
    assert ("running", "restarting OpenClaw") in statuses(ports)
    assert await task.stop() == 0


class ReplyStoreDies:
    """The task dies after the turn's backup, before its answer is stored: the reply put
    fails and the task is stopped at that moment."""

    def __init__(self, store: Any, on_reply: Any) -> None:
        self._store = store
        self._on_reply = on_reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        if message.role == "assistant" and not message.proactive:
            self._on_reply()
            raise StorageUnavailable("the task died here")
        stored: bool = self._store.put_message(user_id, message, fence=fence)
        return stored


async def test_a_task_that_died_before_storing_its_answer_is_answered_by_the_next_from_memory(
    deployment: Deployment, clock: ManualClock, tmp_path: Path
) -> None:
    ports = deployment.memory
    loop = asyncio.get_running_loop()
    first = new_task(deployment, clock, tmp_path, launch(ports))

    def killed() -> None:  # no more receiving: a dead task takes no job again
        assert first.supervisor.bridge is not None
        first.supervisor.bridge.stop_receiving()
        first.supervisor.request_stop("killed")

    deployment.conversations_wrapper = lambda store: ReplyStoreDies(
        store, lambda: loop.call_soon_threadsafe(killed)
    )
    first.supervisor.conversations = deployment.conversations()
    first.start()
    await first.running()
    job = chat_job("what is the capital of Australia?", at=clock.now())
    ports.inbox().send(job)
    assert await first.exit_code() == 0
    assert not [m for m in messages(ports) if m.role == "assistant"]
    assert ports.inbox().depth(USER) == 1, "the job is back in the inbox"
    assert len(first.openclaw.gateway.turns(job.text)) == 1

    deployment.conversations_wrapper = None
    second = new_task(deployment, clock, tmp_path, launch(ports), name="task-b").start()
    await second.running()
    await until(lambda: ports.inbox().depth(USER) == 0, what="the job answered")

    [reply] = [m for m in messages(ports) if m.role == "assistant"]
    assert reply.text == first.openclaw.gateway.answer(job.text)
    assert second.openclaw.gateway.sent == [], "the restored memory had the answer"
    assert len(stream_ends(ports, job.jobId)) == 1
    assert await second.stop() == 0
