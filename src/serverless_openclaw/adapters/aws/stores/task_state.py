"""Task state rows: the state machine of `core/task_state.py`, persisted with conditional writes.

Two kinds of writes:
- transitions (`transition` and the agent's `mark_*`): read, `core.task_state.apply`, then
  write only the attributes that changed, conditioned on `version` (a lost race re-reads and
  decides again);
- attribute updates from the running task (`set_phase`, `heartbeat`, `record_backup`,
  `set_next_wake`): one UpdateItem conditioned on `launchId`, never touching `version`, so a
  heartbeat never makes a concurrent transition fail and a transition never loses a heartbeat.

Methods the agent calls as itself (all conditioned on its launch id, `SOC_TASK_ID`; a task
whose launch is over gets `ConditionFailed` / `TransitionRejected` and must stop):
`set_phase`, `mark_running`, `heartbeat`, `record_backup`, `mark_stopping`, `mark_idle`,
`record_failure`, `set_next_wake`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    deserialize,
    iso,
    now_utc,
    paginate,
    parse_iso,
    value,
)
from serverless_openclaw.adapters.aws.tables import TASK_STATE
from serverless_openclaw.core.errors import ConditionFailed
from serverless_openclaw.core.task_state import (
    Launched,
    LaunchFailed,
    MarkRunning,
    RequestStop,
    Stopped,
    TaskEvent,
    TaskState,
    apply,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_RACE_RETRIES: Final = 8

# TaskState field -> DynamoDB attribute
_ATTRS: Final = {
    "state": "state",
    "version": "version",
    "launch_id": "launchId",
    "task_arn": "taskArn",
    "phase": "phase",
    "state_since": "stateSince",
    "started_at": "startedAt",
    "last_activity_at": "lastActivityAt",
    "last_backup_at": "lastBackupAt",
    "last_backup_bytes": "lastBackupBytes",
    "next_wake_at": "nextWakeAt",
    "next_wake_job": "nextWakeJob",
    "last_error": "lastError",
    "wake_pending": "wakePending",
    "usage_day": "usageDay",
    "usage_seconds": "usageSeconds",
}
_TIMES: Final = {
    "state_since",
    "started_at",
    "last_activity_at",
    "last_backup_at",
    "next_wake_at",
}
MAX_ERROR_CHARS: Final = 500


def _to_attr(name: str, raw: Any) -> Any:
    if name in _TIMES:
        return iso(raw)
    if name == "last_error" and isinstance(raw, str):
        return raw[:MAX_ERROR_CHARS]
    return raw


def _from_item(user_id: str, item: dict[str, Any]) -> TaskState:
    values: dict[str, Any] = {}
    for name, attr in _ATTRS.items():
        if attr not in item:
            continue
        raw = item[attr]
        values[name] = parse_iso(raw) if name in _TIMES else raw
    if "usage_seconds" in values:
        values["usage_seconds"] = float(values["usage_seconds"])
    return TaskState(user_id=user_id, **values)


class TaskStateStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = TASK_STATE.physical_name(prefix)

    # --- reads -----------------------------------------------------------------------------
    def get(self, user_id: str) -> TaskState:
        """The row, or a fresh Idle state (version 0) when the user never had a task."""
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return _from_item(user_id, deserialize(item)) if item else TaskState(user_id=user_id)

    def scan(self) -> Iterator[TaskState]:
        """Every row (the watchdog's view; one row per user who ever had a task)."""
        for raw in paginate(self._db.scan, "Items", TableName=self.table, ConsistentRead=True):
            item = deserialize(raw)
            yield _from_item(item["userId"], item)

    # --- transitions -----------------------------------------------------------------------
    def write(self, old: TaskState, new: TaskState) -> TaskState:
        """Write `new` over `old` if nobody changed the row since `old` was read."""
        sets: list[str] = []
        removes: list[str] = []
        names: dict[str, str] = {"#version": "version"}
        values: dict[str, Any] = {}
        for f in fields(TaskState):
            if f.name == "user_id" or f.name not in _ATTRS:
                continue
            before, after = getattr(old, f.name), getattr(new, f.name)
            if before == after and old.version != 0:
                continue
            attr = _ATTRS[f.name]
            converted_value = _to_attr(f.name, after)
            if converted_value is None:
                if old.version != 0:
                    names[f"#{attr}"] = attr
                    removes.append(f"#{attr}")
            else:
                names[f"#{attr}"] = attr
                sets.append(f"#{attr} = :{attr}")
                values[f":{attr}"] = value(converted_value)
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        if old.version == 0:
            condition = "attribute_not_exists(#version)"
        else:
            condition = "#version = :expected"
            values[":expected"] = value(old.version)
        with converted():
            self._db.update_item(
                TableName=self.table,
                Key={"userId": {"S": old.user_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        return new

    def transition(self, user_id: str, event: TaskEvent) -> tuple[TaskState, TaskState]:
        """Apply `event` to the current row; returns (before, after).

        Raises `TransitionRejected` when the event is not allowed in the state the row is in
        (possibly after another writer changed it); `ConditionFailed` only if the row keeps
        changing under us `MAX_RACE_RETRIES` times.
        """
        for _ in range(MAX_RACE_RETRIES):
            before = self.get(user_id)
            after = apply(before, event)
            try:
                return before, self.write(before, after)
            except ConditionFailed:
                continue
        raise ConditionFailed(f"task state of {user_id} kept changing")

    # --- attribute updates from the task ---------------------------------------------------
    def _update_own(self, user_id: str, launch_id: str, sets: dict[str, Any]) -> None:
        names = {"#launchId": "launchId", **{f"#{k}": k for k in sets}}
        values: dict[str, Any] = {":launch": {"S": launch_id}}
        parts: list[str] = []
        removes: list[str] = []
        for attr, raw in sets.items():
            if raw is None:
                removes.append(f"#{attr}")
            else:
                parts.append(f"#{attr} = :{attr}")
                values[f":{attr}"] = value(raw)
        expression = ("SET " + ", ".join(parts)) if parts else ""
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        with converted():
            self._db.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression=expression.strip(),
                ConditionExpression="#launchId = :launch",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def set_phase(self, user_id: str, launch_id: str, phase: str) -> None:
        """Start-up progress shown to the user ("restoring", "starting gateway", ...)."""
        self._update_own(user_id, launch_id, {"phase": phase[:100]})

    def heartbeat(self, user_id: str, launch_id: str, at: datetime | None = None) -> None:
        """Refresh `lastActivityAt` only (one attribute), so the watchdog sees a busy task."""
        self._update_own(user_id, launch_id, {"lastActivityAt": iso(at or now_utc())})

    def record_backup(self, user_id: str, launch_id: str, at: datetime, size_bytes: int) -> None:
        """The last successful state backup (shown in the UI)."""
        self._update_own(
            user_id, launch_id, {"lastBackupAt": iso(at), "lastBackupBytes": int(size_bytes)}
        )

    def set_next_wake(
        self, user_id: str, launch_id: str, at: datetime | None, job_name: str | None
    ) -> None:
        """When the agent's own scheduler next needs it (None clears); survives going idle,
        and the watchdog wakes the agent for it."""
        self._update_own(
            user_id,
            launch_id,
            {"nextWakeAt": iso(at), "nextWakeJob": job_name[:200] if job_name else None},
        )

    def record_launch(self, user_id: str, launch_id: str, task_arn: str) -> TaskState:
        return self.transition(user_id, Launched(launch_id, task_arn, now_utc()))[1]

    def record_launch_failure(self, user_id: str, launch_id: str, error: str) -> TaskState:
        return self.transition(user_id, LaunchFailed(launch_id, error, now_utc()))[1]

    def mark_running(self, user_id: str, launch_id: str) -> TaskState:
        """Starting -> Running: the task takes jobs from now on."""
        return self.transition(user_id, MarkRunning(launch_id, now_utc()))[1]

    def mark_stopping(self, user_id: str, launch_id: str, reason: str = "stopping") -> TaskState:
        """Starting/Running -> Stopping (e.g. on SIGTERM): no new task starts until Idle."""
        return self.transition(user_id, RequestStop(now_utc(), launch_id=launch_id, reason=reason))[
            1
        ]

    def mark_idle(self, user_id: str, launch_id: str, error: str | None = None) -> TaskState:
        """The task's last write before it exits: the user's next message starts a new one."""
        return self.transition(user_id, Stopped(launch_id, now_utc(), error))[1]

    def record_failure(self, user_id: str, launch_id: str, error: str) -> TaskState:
        """The task cannot go on (e.g. restore failed): Stopping with `lastError` shown to the
        user; follow with `mark_idle` just before exiting."""
        return self.transition(
            user_id, RequestStop(now_utc(), launch_id=launch_id, reason="failed", error=error)
        )[1]
