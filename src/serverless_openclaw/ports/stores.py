"""What the control plane and the agent need from storage, as small Protocols.

Each adapter family (`adapters/aws`: DynamoDB; `adapters/embedded`: SQLite; `adapters/memory`:
dicts) implements every one of them, and one contract suite (tests/contracts/) holds them to
the same behaviour: idempotent message puts, version-conditioned task-state writes,
launch-conditioned task writes, single-use pairing codes, expiring counters.

Everything a store returns or takes is a `contracts/` model or a plain value; adapters convert
their SDK's errors into `core.errors` (`ConditionFailed`, `StorageUnavailable`, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from serverless_openclaw.contracts.records import (
    Conversation,
    Message,
    Page,
    PairingCode,
    TelegramLink,
    UserSettings,
)
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

MAX_PAGE: Final = 100
"""The largest page any list call returns, whatever `limit` asks."""
CONNECTION_TTL: Final = timedelta(hours=2, minutes=10)
"""API Gateway closes WebSocket connections after 2 hours; records outlive that a little and
then expire even if $disconnect never ran."""
MAX_RACE_RETRIES: Final = 8
MAX_ERROR_CHARS: Final = 500


@dataclass(frozen=True)
class ConnectionRecord:
    connection_id: str
    user_id: str
    connected_at: datetime


class ConnectionStore(Protocol):
    """Open WebSocket connections, by id (each $default message) and by user (broadcasts)."""

    def put(self, connection_id: str, user_id: str, connected_at: datetime) -> None: ...

    def get(self, connection_id: str) -> ConnectionRecord | None: ...

    def delete(self, connection_id: str) -> None: ...

    def for_user(self, user_id: str) -> list[ConnectionRecord]:
        """The user's connections, oldest first (may miss one opened a moment ago)."""
        ...


class ConversationStore(Protocol):
    """Conversations of a user (by recency) and their messages (in order, idempotent by id).
    Everything is keyed by the user first: another user's conversation id is not there."""

    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        """Store a message once: a second put with the same id changes nothing and returns
        False. The conversation is created by its first message (title = that message) and
        moves to the top of the list. A message with `inReplyTo` is listed directly after
        the message it answers (a reply to a message that was never stored, in a
        conversation never deleted, is listed by its own time).

        Deletion is final: the conversation keeps a tombstone with the time it was deleted
        (never earlier than its newest message), and a message created at or before that
        time, or a reply whose question is gone, raises `ConversationDeleted` and stores
        nothing (a late reply or a late retry never brings it back). With `fence` (a launch
        id) the write happens only while that launch is the user's current one, atomically
        with the check (decision D12); otherwise `Fenced`, which wins over every other
        outcome (a duplicate from a stale launch is `Fenced` too, from the current one
        False)."""
        ...

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Delete the conversation and its messages, leaving the tombstone described in
        `put_message` (messages created afterwards start it afresh); False when there was
        none."""
        ...

    def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None: ...

    def has_message(self, user_id: str, conversation_id: str, message_id: str) -> bool: ...

    def list_conversations(
        self, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """Most recently updated first; `cursor` is the previous page's `nextCursor` (a
        cursor made for another user is refused with `InvalidRequest`)."""
        ...

    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first, in the order they were created."""
        ...


class SettingsStore(Protocol):
    """A user's preferences; a user who never saved any gets the defaults."""

    def get(self, user_id: str) -> UserSettings: ...

    def update(self, user_id: str, changes: dict[str, Any]) -> UserSettings:
        """Merge `changes` (a partial `UserSettings`); `InvalidRequest` names the first bad
        field."""
        ...


class CounterStore(Protocol):
    """Expiring counters and markers: rate-limit windows, quotas, deduplication. Expiry is
    checked on every read (DynamoDB's TTL deletes up to days late)."""

    def increment(self, key: str, *, expires_at: datetime, amount: int = 1) -> int:
        """Atomically add `amount`; returns the new total."""
        ...

    def value(self, key: str) -> int: ...

    def mark(self, key: str, *, expires_at: datetime, now: datetime | None = None) -> bool:
        """Set a marker; True if it was not set (or had expired), False if it already was."""
        ...

    def is_marked(self, key: str, *, now: datetime | None = None) -> bool: ...


class TelegramStore(Protocol):
    """Telegram chat <-> user links and one-time pairing codes (decision D9)."""

    def link(self, chat_id: int, user_id: str, username: str | None = None) -> TelegramLink:
        """Link `chat_id` to `user_id`, replacing the user's earlier chat, if any."""
        ...

    def user_for_chat(self, chat_id: int) -> str | None: ...

    def link_of_user(self, user_id: str) -> TelegramLink | None: ...

    def unlink_user(self, user_id: str) -> bool: ...

    def create_pairing_code(self, user_id: str, *, now: datetime | None = None) -> PairingCode:
        """A new single-use code (10 minutes); only its hash is stored."""
        ...

    def redeem_pairing_code(
        self, chat_id: int, code: str, *, attempts_per_hour: int, now: datetime | None = None
    ) -> str:
        """The user the code was issued to; the code is consumed. `NotFound` for a wrong,
        used or expired code; `QuotaExceeded` after `attempts_per_hour` tries of this chat."""
        ...


class TaskStateRows(Protocol):
    """The storage primitives of the task-state machine; `TaskStates` builds on them."""

    def get(self, user_id: str) -> TaskState:
        """The row, or a fresh Idle state (version 0) when the user never had a task."""
        ...

    def scan(self) -> Iterator[TaskState]:
        """Every row (the watchdog's view)."""
        ...

    def write(self, old: TaskState, new: TaskState) -> TaskState:
        """Write `new` over `old` if nobody changed the row since `old` was read (its
        `version`; version 0 = the row must not exist); `ConditionFailed` otherwise."""
        ...

    def update_own(self, user_id: str, launch_id: str, changes: dict[str, Any]) -> None:
        """Set (None: remove) attributes of `TaskState` by field name, only while the row's
        launch is `launch_id` (`ConditionFailed` otherwise); never touches `version`."""
        ...


class TaskStates:
    """The task-state store: the pure state machine of `core/task_state.py` over conditional
    writes. Shared by every adapter family, which only provides the `TaskStateRows`.

    Methods the agent calls as itself are conditioned on its launch id (`SOC_TASK_ID`): a task
    whose launch is over gets `ConditionFailed` / `TransitionRejected` and must stop.
    """

    def __init__(self, rows: TaskStateRows, *, clock: Any = None) -> None:
        from datetime import UTC

        self.rows = rows
        self._clock = clock or (lambda: datetime.now(UTC))

    def get(self, user_id: str) -> TaskState:
        return self.rows.get(user_id)

    def scan(self) -> Iterator[TaskState]:
        return self.rows.scan()

    def write(self, old: TaskState, new: TaskState) -> TaskState:
        return self.rows.write(old, new)

    def transition(self, user_id: str, event: TaskEvent) -> tuple[TaskState, TaskState]:
        """Apply `event` to the current row; returns (before, after). `TransitionRejected`
        when the event is not allowed in the row's state; `ConditionFailed` only if the row
        keeps changing under us."""
        for _ in range(MAX_RACE_RETRIES):
            before = self.rows.get(user_id)
            after = apply(before, event)
            try:
                return before, self.rows.write(before, after)
            except ConditionFailed:
                continue
        raise ConditionFailed(f"task state of {user_id} kept changing")

    # --- attribute updates from the task ---------------------------------------------------
    def set_phase(self, user_id: str, launch_id: str, phase: str) -> None:
        """Start-up progress shown to the user ("restoring", "starting gateway", ...)."""
        self.rows.update_own(user_id, launch_id, {"phase": phase[:100]})

    def heartbeat(self, user_id: str, launch_id: str, at: datetime | None = None) -> None:
        """Refresh `last_activity_at` only, so the watchdog sees a busy task."""
        self.rows.update_own(user_id, launch_id, {"last_activity_at": at or self._clock()})

    def record_backup(
        self,
        user_id: str,
        launch_id: str,
        at: datetime,
        size_bytes: int,
        manifest_version: str | None = None,
    ) -> None:
        """Commit a backup: the row names its manifest version (None: an unversioned store),
        only while `launch_id` is current — a fenced task's manifest is never named."""
        self.rows.update_own(
            user_id,
            launch_id,
            {
                "last_backup_at": at,
                "last_backup_bytes": int(size_bytes),
                "last_backup_manifest": manifest_version,
            },
        )

    def set_next_wake(
        self, user_id: str, launch_id: str, at: datetime | None, job_name: str | None
    ) -> None:
        """When the agent's own scheduler next needs it (None clears)."""
        self.rows.update_own(
            user_id,
            launch_id,
            {"next_wake_at": at, "next_wake_job": job_name[:200] if job_name else None},
        )

    def assert_current(self, user_id: str, launch_id: str) -> None:
        """`ConditionFailed` unless `launch_id` is the row's current launch (fencing)."""
        self.rows.update_own(user_id, launch_id, {})

    # --- transitions by the control plane and the task -------------------------------------
    def record_launch(self, user_id: str, launch_id: str, task_arn: str) -> TaskState:
        return self.transition(user_id, Launched(launch_id, task_arn, self._clock()))[1]

    def record_launch_failure(self, user_id: str, launch_id: str, error: str) -> TaskState:
        return self.transition(user_id, LaunchFailed(launch_id, error, self._clock()))[1]

    def mark_running(self, user_id: str, launch_id: str) -> TaskState:
        return self.transition(user_id, MarkRunning(launch_id, self._clock()))[1]

    def mark_stopping(self, user_id: str, launch_id: str, reason: str = "stopping") -> TaskState:
        event = RequestStop(self._clock(), launch_id=launch_id, reason=reason)
        return self.transition(user_id, event)[1]

    def mark_idle(self, user_id: str, launch_id: str, error: str | None = None) -> TaskState:
        return self.transition(user_id, Stopped(launch_id, self._clock(), error))[1]

    def record_failure(self, user_id: str, launch_id: str, error: str) -> TaskState:
        event = RequestStop(self._clock(), launch_id=launch_id, reason="failed", error=error)
        return self.transition(user_id, event)[1]
