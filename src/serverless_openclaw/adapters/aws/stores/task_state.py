"""Task state rows in DynamoDB (the `TaskStateRows` port); `ports.stores.TaskStates` puts the
state machine of `core/task_state.py` on top.

Two kinds of writes:
- `write`: only the attributes that changed, conditioned on `version` (a lost race re-reads
  and decides again);
- `update_own` from the running task (phase, heartbeat, backup, next wake): one UpdateItem
  conditioned on `launchId`, never touching `version`, so a heartbeat never makes a
  concurrent transition fail and a transition never loses a heartbeat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    deserialize,
    iso,
    paginate,
    parse_iso,
    value,
)
from serverless_openclaw.adapters.aws.tables import TASK_STATE
from serverless_openclaw.core.task_state import TaskState
from serverless_openclaw.ports.stores import MAX_ERROR_CHARS, TaskStates

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

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
    "last_backup_manifest": "lastBackupManifest",
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


class DynamoTaskStateRows:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = TASK_STATE.physical_name(prefix)

    def get(self, user_id: str) -> TaskState:
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return _from_item(user_id, deserialize(item)) if item else TaskState(user_id=user_id)

    def scan(self) -> Iterator[TaskState]:
        for raw in paginate(self._db.scan, "Items", TableName=self.table, ConsistentRead=True):
            item = deserialize(raw)
            yield _from_item(item["userId"], item)

    def write(self, old: TaskState, new: TaskState) -> TaskState:

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

    def update_own(self, user_id: str, launch_id: str, changes: dict[str, Any]) -> None:
        names = {"#launchId": "launchId"}
        values: dict[str, Any] = {":launch": {"S": launch_id}}
        parts: list[str] = []
        removes: list[str] = []
        for name, raw in changes.items():
            attr = _ATTRS[name]
            names[f"#{attr}"] = attr
            converted_value = _to_attr(name, raw)
            if converted_value is None:
                removes.append(f"#{attr}")
            else:
                parts.append(f"#{attr} = :{attr}")
                values[f":{attr}"] = value(converted_value)
        if not parts and not removes:
            parts.append("#launchId = :launch")  # a fencing check: rewrite what is there
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


class TaskStateStore(TaskStates):
    """The task-state store on DynamoDB."""

    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self.dynamo = DynamoTaskStateRows(client, prefix)
        self.table = self.dynamo.table
        super().__init__(self.dynamo)
