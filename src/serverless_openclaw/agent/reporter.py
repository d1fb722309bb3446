"""The agent's voice towards the control plane: task-state writes made as its own launch, and
status frames pushed to the person's open browsers.

Every write is conditioned on the launch id (SOC_TASK_ID). When that condition fails, another
launch owns the row: this task is fenced (D12) and must stop (`Fenced`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.frames import AgentState, StatusFrame
from serverless_openclaw.core.errors import (
    ConditionFailed,
    Fenced,
    StorageUnavailable,
    TransitionRejected,
)
from serverless_openclaw.core.task_state import SetWakePending
from serverless_openclaw.ports.stores import TaskStates as TaskStateStore

from .state_sync import BackupResult

log = logging.getLogger(__name__)


class LaunchFence:
    """The state sync's `BackupFence`: the task-state row, as this launch (called from the
    sync's worker thread, hence plain blocking calls)."""

    def __init__(self, store: TaskStateStore, *, user_id: str, launch_id: str) -> None:
        self._store = store
        self.user_id = user_id
        self.launch_id = launch_id

    def check(self) -> None:
        try:
            self._store.assert_current(self.user_id, self.launch_id)
        except (ConditionFailed, TransitionRejected) as exc:
            raise Fenced(f"backup: launch {self.launch_id} is no longer current") from exc

    def commit(self, result: BackupResult) -> None:
        try:
            self._store.record_backup(
                self.user_id,
                self.launch_id,
                result.at,
                result.total_bytes,
                result.manifest_version,
            )
        except (ConditionFailed, TransitionRejected) as exc:
            raise Fenced(f"record backup: launch {self.launch_id} is no longer current") from exc


class AgentReporter:
    def __init__(
        self,
        store: TaskStateStore,
        broadcaster: Broadcaster | None,
        *,
        user_id: str,
        launch_id: str,
    ) -> None:
        self._store = store
        self._broadcaster = broadcaster
        self.user_id = user_id
        self.launch_id = launch_id

    async def _own(self, what: str, func: object, *args: object) -> None:
        """A write as this launch. `Fenced` when another launch owns the row; a transition
        the row's state does not allow (e.g. "running" after the person pressed stop) stays
        a `TransitionRejected`."""
        try:
            await asyncio.to_thread(func, self.user_id, self.launch_id, *args)  # type: ignore[arg-type]
        except TransitionRejected:
            if await self._still_ours():
                raise
            raise Fenced(f"{what}: launch {self.launch_id} no longer owns the row") from None
        except ConditionFailed as exc:
            raise Fenced(f"{what}: launch {self.launch_id} no longer owns the row") from exc

    async def push(self, state: AgentState, phase: str | None = None) -> None:
        if self._broadcaster is None:
            return
        try:
            await asyncio.to_thread(
                self._broadcaster.send, self.user_id, StatusFrame(agent=state, phase=phase)
            )
        except StorageUnavailable as exc:
            log.warning("status push failed: %s", exc)

    async def phase(self, phase: str) -> None:
        log.info("phase: %s", phase)
        await self._own("set phase", self._store.set_phase, phase)
        await self.push("starting", phase)

    async def running(self) -> None:
        await self._own("mark running", self._store.mark_running)
        await self.push("running")

    async def heartbeat(self) -> None:
        await self._own("heartbeat", self._store.heartbeat)

    async def next_wake(self, at: datetime | None, job: str | None) -> None:
        await self._own("set next wake", self._store.set_next_wake, at, job)

    async def _still_ours(self) -> bool:
        """After a refused write: is the row still this launch's (e.g. already stopping)?
        The browsers hear only from the current launch."""
        try:
            row = await asyncio.to_thread(self._store.get, self.user_id)
        except StorageUnavailable:
            return False
        return row.launch_id == self.launch_id

    async def stopping(self, reason: str) -> None:
        try:
            await self._own("mark stopping", self._store.mark_stopping, reason)
        except TransitionRejected:
            log.info("mark stopping: the row is already stopping")
        except Fenced:
            log.warning("mark stopping: another launch owns the row")
            return
        await self.push("stopping")

    async def wake_pending(self) -> None:
        """Ask the watchdog to start a new task after this one (a job was handed back)."""
        try:
            await asyncio.to_thread(self._store.transition, self.user_id, SetWakePending(utcnow()))
        except (ConditionFailed, TransitionRejected, StorageUnavailable) as exc:
            log.warning("could not ask for a new task: %s", exc)

    async def failed(self, error: str) -> None:
        try:
            await self._own("record failure", self._store.record_failure, error)
        except TransitionRejected:
            log.info("record failure: the row is already stopping")
        except Fenced:
            log.warning("record failure: another launch owns the row")

    async def idle(self, error: str | None = None) -> None:
        try:
            await self._own("mark idle", self._store.mark_idle, error)
        except Fenced:
            log.warning("mark idle: another launch owns the row")
            return
        await self.push("idle")


def utcnow() -> datetime:
    return datetime.now(UTC)
