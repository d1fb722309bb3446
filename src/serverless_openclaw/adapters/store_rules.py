"""Rules every store adapter applies the same way, written once (no SDK, no I/O).

The DynamoDB, SQLite and in-memory stores differ in how they keep data, not in what a caller
sees; the pieces of that shared behaviour that are plain computation live here:

- the order key of a message, which lists a reply directly under the question it answers;
- conversation titles;
- page cursors that name their owner, so a cursor made for one user's data is refused when
  another user presents it;
- inbox addresses and job bodies;
- the condition of powertools' idempotency put (who may take a key);
- timestamps: UTC, fixed-width ISO 8601 that sorts as text in the order of time, and the
  whole-second epochs DynamoDB's TTL attributes use (expiry compares at that granularity in
  every family).

Pairing codes' rules are the webhook's as much as the stores': they live in core/pairing.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, inbox_job_adapter
from serverless_openclaw.contracts.limits import MAX_CONVERSATION_TITLE
from serverless_openclaw.core.errors import InvalidRequest
from serverless_openclaw.core.task_state import TaskState
from serverless_openclaw.ports.stores import MAX_ERROR_CHARS, MAX_PAGE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

ORDER_SEPARATOR: Final = "#"
"""Sorts before every character a message id may hold (`[A-Za-z0-9_.:-]`), so only replies to
a message (whose keys extend its key) can sort between it and the next message."""

_USER_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- time ----------------------------------------------------------------------------------
Clock = Callable[[], datetime]
"""Where the memory and embedded families read the time (a `FakeClock` in tests)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601 (microseconds, `Z`): sorts as text in the order of time."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch(moment: datetime) -> int:
    """Whole seconds, as DynamoDB TTL attributes hold them."""
    return int(utc(moment).timestamp())


# --- messages and conversations --------------------------------------------------------------
def order_key(created_at: datetime, message_id: str) -> str:
    """Where a message is listed: by creation time (milliseconds), then by id."""
    created_ms = int(utc(created_at).timestamp() * 1000)
    return f"{created_ms:015d}{ORDER_SEPARATOR}{message_id}"


def reply_order_key(question_key: str, created_at: datetime, message_id: str) -> str:
    """A reply's key extends its question's: it sorts after the question and before whatever
    was asked next, so three questions sent back to back list as q1 a1 q2 a2 q3 a3."""
    return f"{question_key}{ORDER_SEPARATOR}{order_key(created_at, message_id)}"


def title_of(text: str) -> str:
    """A conversation's title: its first message on one line, shortened."""
    line = " ".join(text.split())
    if len(line) <= MAX_CONVERSATION_TITLE:
        return line or "Conversation"
    return line[: MAX_CONVERSATION_TITLE - 1].rstrip() + "…"


def first_error(exc: ValidationError) -> str:
    """The first bad field of a settings update, as every store names it."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]


def page_size(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


# --- cursors -------------------------------------------------------------------------------
def encode_cursor(owner: Mapping[str, str], position: Sequence[str]) -> str:
    """An opaque cursor: the last position of a page and whose data it walks."""
    payload = json.dumps({"o": dict(owner), "p": list(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, owner: Mapping[str, str], size: int) -> list[str] | None:
    """The position a cursor names, or None for the first page. A cursor that is not one of
    ours, or that was made for another owner's data, is refused (`InvalidRequest`)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("invalid cursor") from exc
    if not isinstance(decoded, dict) or decoded.get("o") != dict(owner):
        raise InvalidRequest("invalid cursor")
    position = decoded.get("p")
    if (
        not isinstance(position, list)
        or len(position) != size
        or not all(isinstance(part, str) for part in position)
    ):
        raise InvalidRequest("invalid cursor")
    return position


# --- inbox ---------------------------------------------------------------------------------
def check_user_id(user_id: str) -> str:
    """User ids that can name an inbox (SQS queue names allow [A-Za-z0-9_-]); every family
    refuses the same ones so the local product never accepts what AWS would not."""
    if not _USER_ID.match(user_id):
        raise InvalidRequest("user id cannot name a queue")
    return user_id


def user_of(queue_url: str, scheme: str) -> str:
    """The user an inbox address (`<scheme><user id>`) belongs to."""
    if not queue_url.startswith(scheme):
        raise InvalidRequest(f"not an inbox address: {queue_url}")
    return check_user_id(queue_url[len(scheme) :])


def parse_job(body: str) -> ChatJob | ControlJob | None:
    """The job a message body holds; None for a body that is not one (poison)."""
    try:
        return inbox_job_adapter.validate_json(body)
    except ValidationError:
        return None


# --- task state ----------------------------------------------------------------------------
_TASK_FIELDS: Final = frozenset(f.name for f in fields(TaskState)) - {"user_id", "version"}


def _task_value(name: str, raw: Any) -> Any:
    if isinstance(raw, datetime):
        return utc(raw)
    if name == "last_error" and isinstance(raw, str):
        return raw[:MAX_ERROR_CHARS]
    return raw


def merge_task_state(current: TaskState | None, old: TaskState, new: TaskState) -> TaskState:
    """What a version-conditioned write leaves in the row: the fields `new` changed from
    `old`, over whatever the row holds now (a heartbeat written since `old` was read
    survives a transition). Writing over no row (`old.version == 0`) takes all of `new`."""
    base = new if current is None or old.version == 0 else current
    changed = {
        name: _task_value(name, getattr(new, name))
        for name in _TASK_FIELDS
        if base is new or getattr(old, name) != getattr(new, name)
    }
    return replace(base, **changed, version=new.version)


def apply_own_changes(row: TaskState, changes: Mapping[str, Any]) -> TaskState:
    """`TaskStateRows.update_own`'s changes applied to a row (None removes: the default)."""
    unknown = set(changes) - _TASK_FIELDS
    if unknown:
        raise InvalidRequest(f"not a task-state attribute: {sorted(unknown)[0]}")
    defaults = TaskState(user_id=row.user_id)
    values = {
        name: getattr(defaults, name) if raw is None else _task_value(name, raw)
        for name, raw in changes.items()
    }
    return replace(row, **values)


# --- idempotency (powertools) --------------------------------------------------------------
def may_take(existing: DataRecord | None, now_s: float) -> bool:
    """Whether a new in-progress record may replace `existing`: powertools' DynamoDB
    condition (no record, an expired one, or an in-progress one whose lock expired)."""
    if existing is None:
        return True
    if existing.expiry_timestamp is not None and existing.expiry_timestamp < int(now_s):
        return True
    lock = existing.in_progress_expiry_timestamp
    return existing._status == "INPROGRESS" and lock is not None and lock < int(now_s * 1000)


def copy_record(record: DataRecord) -> DataRecord:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    return DataRecord(
        idempotency_key=record.idempotency_key,
        status=record._status,
        expiry_timestamp=record.expiry_timestamp,
        in_progress_expiry_timestamp=record.in_progress_expiry_timestamp,
        response_data=record.response_data,
        payload_hash=record.payload_hash,
    )
