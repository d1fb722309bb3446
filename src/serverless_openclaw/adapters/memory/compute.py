"""Agent tasks in memory: `run_task` and `stop_task` are recorded, nothing runs. A test sets
what `describe` reports (`set_status`) and can make the next start fail."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import replace

from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.ports.compute import LaunchSpec, TaskInfo


class MemoryCompute:
    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tasks: dict[str, TaskInfo] = {}
        self._fail_next: str | None = None
        self.runs: list[LaunchSpec] = []
        self.stops: list[tuple[str, str]] = []
        """(task id, reason) of every `stop_task`, in order."""

    # --- the port --------------------------------------------------------------------------
    def run_task(self, spec: LaunchSpec) -> str:
        with self._lock:
            if self._fail_next is not None:
                reason, self._fail_next = self._fail_next, None
                raise StorageUnavailable(reason)
            arn = f"memory:task/{next(self._ids)}"
            self.runs.append(spec)
            self._tasks[arn] = TaskInfo(
                arn=arn,
                last_status="PROVISIONING",
                desired_status="RUNNING",
                user_id=spec.user_id,
                launch_id=spec.launch_id,
                started_at=self._clock(),
            )
            return arn

    def stop_task(self, task_arn: str, reason: str) -> None:
        with self._lock:
            self.stops.append((task_arn, reason))
            info = self._tasks.get(task_arn)
            if info is not None and info.last_status != "STOPPED":
                self._tasks[task_arn] = replace(
                    info, desired_status="STOPPED", stopped_reason=reason
                )

    def describe(self, task_arns: Sequence[str]) -> dict[str, TaskInfo]:
        with self._lock:
            return {arn: self._tasks[arn] for arn in task_arns if arn in self._tasks}

    def list_running(self) -> list[str]:
        with self._lock:
            return [arn for arn, t in self._tasks.items() if t.desired_status == "RUNNING"]

    # --- for tests -------------------------------------------------------------------------
    def set_status(
        self,
        task_arn: str,
        last_status: str,
        *,
        desired_status: str | None = None,
        stopped_reason: str | None = None,
        exit_code: int | None = None,
    ) -> TaskInfo:
        """What `describe` reports from now on (STOPPED also makes the desired status
        STOPPED, as ECS does)."""
        with self._lock:
            info = self._tasks[task_arn]
            desired = desired_status or ("STOPPED" if last_status == "STOPPED" else None)
            updated = replace(
                info,
                last_status=last_status,
                desired_status=desired or info.desired_status,
                stopped_reason=stopped_reason or info.stopped_reason,
                exit_code=exit_code if exit_code is not None else info.exit_code,
            )
            self._tasks[task_arn] = updated
            return updated

    def fail_next_run(self, reason: str = "no capacity") -> None:
        """The next `run_task` raises `StorageUnavailable(reason)` (RunTask refused)."""
        with self._lock:
            self._fail_next = reason

    def tasks_of(self, user_id: str) -> list[TaskInfo]:
        with self._lock:
            return [t for t in self._tasks.values() if t.user_id == user_id]
