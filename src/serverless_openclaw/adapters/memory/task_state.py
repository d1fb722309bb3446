"""Task-state rows in a dict (the `TaskStateRows` port); `ports.stores.TaskStates` puts the
state machine on top, exactly as for DynamoDB."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.adapters.store_rules import apply_own_changes, merge_task_state
from serverless_openclaw.core.errors import ConditionFailed
from serverless_openclaw.core.task_state import TaskState
from serverless_openclaw.ports.stores import TaskStates


class MemoryTaskStateRows:
    """`lock` is shared with the conversation store, whose fenced puts check a row's launch
    in the same critical section as the write."""

    def __init__(self, *, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self._rows: dict[str, TaskState] = {}

    def get(self, user_id: str) -> TaskState:
        with self.lock:
            return self._rows.get(user_id) or TaskState(user_id=user_id)

    def scan(self) -> Iterator[TaskState]:
        with self.lock:
            rows = list(self._rows.values())
        return iter(rows)

    def write(self, old: TaskState, new: TaskState) -> TaskState:
        with self.lock:
            current = self._rows.get(old.user_id)
            if (current.version if current else 0) != old.version:
                raise ConditionFailed(f"task state of {old.user_id} changed since it was read")
            merged = merge_task_state(current, old, new)
            self._rows[old.user_id] = merged
            return merged

    def update_own(self, user_id: str, launch_id: str, changes: dict[str, Any]) -> None:
        with self.lock:
            current = self._rows.get(user_id)
            if current is None or current.launch_id != launch_id:
                raise ConditionFailed(f"launch {launch_id[:8]} is not the current one")
            self._rows[user_id] = apply_own_changes(current, changes)

    def launch_of(self, user_id: str) -> str | None:
        """The row's current launch (call with `lock` held to act on the answer)."""
        with self.lock:
            row = self._rows.get(user_id)
            return row.launch_id if row else None


class MemoryTaskStates(TaskStates):
    def __init__(self, rows: MemoryTaskStateRows, *, clock: Clock = utc_now) -> None:
        self.memory = rows
        super().__init__(rows, clock=clock)
