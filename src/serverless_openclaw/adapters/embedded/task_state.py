"""Task-state rows in SQLite (the `TaskStateRows` port): the row as JSON plus its version and
launch id as columns (what the conditions compare), every read-modify-write in one
`BEGIN IMMEDIATE` transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, Final

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.store_rules import (
    Clock,
    apply_own_changes,
    iso,
    merge_task_state,
    parse_iso,
    utc_now,
)
from serverless_openclaw.core.errors import ConditionFailed
from serverless_openclaw.core.task_state import TaskState
from serverless_openclaw.ports.stores import TaskStates

_TIMES: Final = frozenset(
    f.name for f in fields(TaskState) if "datetime" in str(f.type) and f.name != "user_id"
)


def dump_state(state: TaskState) -> str:
    values = {
        name: iso(value) if isinstance(value, datetime) else value
        for name, value in asdict(state).items()
    }
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def load_state(text: str) -> TaskState:
    values: dict[str, Any] = json.loads(text)
    for name in _TIMES:
        if values.get(name):
            values[name] = parse_iso(values[name])
    return TaskState(**values)


class EmbeddedTaskStateRows:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: str) -> TaskState:
        row = self._db.query_one("SELECT row FROM task_state WHERE user_id = ?", (user_id,))
        return load_state(row[0]) if row else TaskState(user_id=user_id)

    def scan(self) -> Iterator[TaskState]:
        rows = self._db.query("SELECT row FROM task_state ORDER BY user_id")
        return iter([load_state(row[0]) for row in rows])

    def write(self, old: TaskState, new: TaskState) -> TaskState:
        with self._db.write() as db:
            row = db.execute("SELECT row FROM task_state WHERE user_id = ?", (old.user_id,))
            found = row.fetchone()
            current = load_state(found[0]) if found else None
            if (current.version if current else 0) != old.version:
                raise ConditionFailed(f"task state of {old.user_id} changed since it was read")
            merged = merge_task_state(current, old, new)
            db.execute(
                "INSERT INTO task_state (user_id, version, launch_id, row) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, "
                "launch_id = excluded.launch_id, row = excluded.row",
                (old.user_id, merged.version, merged.launch_id, dump_state(merged)),
            )
        return merged

    def update_own(self, user_id: str, launch_id: str, changes: dict[str, Any]) -> None:
        with self._db.write() as db:
            found = db.execute(
                "SELECT row FROM task_state WHERE user_id = ? AND launch_id = ?",
                (user_id, launch_id),
            ).fetchone()
            if found is None:
                raise ConditionFailed(f"launch {launch_id[:8]} is not the current one")
            updated = apply_own_changes(load_state(found[0]), changes)
            db.execute(
                "UPDATE task_state SET launch_id = ?, row = ? WHERE user_id = ?",
                (updated.launch_id, dump_state(updated), user_id),
            )


class EmbeddedTaskStates(TaskStates):
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self.sqlite = EmbeddedTaskStateRows(db)
        super().__init__(self.sqlite, clock=clock)
