"""The DynamoDB stores as their users see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.stores import (
    ConversationStore,
    CounterStore,
    SettingsStore,
    TaskStateStore,
    TelegramStore,
)
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import (
    ConditionFailed,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    TransitionRejected,
)
from serverless_openclaw.core.task_state import Wake, apply

NOW = datetime.now(UTC)


def _msg(n: int, conversation: str = "c1", at: datetime | None = None) -> Message:
    return Message(
        id=f"m-{n:04d}",
        conversationId=conversation,
        role="user",
        text=f"message {n}",
        createdAt=at or NOW + timedelta(milliseconds=n),
    )


def test_messages_are_idempotent_ordered_and_paged(provisioned: AwsClients, aws: Any) -> None:
    store = ConversationStore(provisioned.dynamodb(), aws.prefix)
    for n in reversed(range(7)):  # stored out of order
        assert store.put_message("u1", _msg(n))
    assert not store.put_message("u1", _msg(3).model_copy(update={"text": "changed"}))

    seen: list[Message] = []
    cursor = None
    while True:
        page = store.list_messages("u1", "c1", limit=3, cursor=cursor)
        seen.extend(page.items)
        cursor = page.nextCursor
        if not cursor:
            break
    assert [m.id for m in seen] == [f"m-{n:04d}" for n in range(7)]
    assert seen[3].text == "message 3"
    with pytest.raises(InvalidRequest):
        store.list_messages("u1", "c1", cursor="not a cursor!")


def test_conversations_are_listed_most_recent_first_and_deleted_with_messages(
    provisioned: AwsClients, aws: Any
) -> None:
    store = ConversationStore(provisioned.dynamodb(), aws.prefix)
    store.put_message("u1", _msg(1, "old", NOW - timedelta(hours=2)))
    store.put_message("u1", _msg(2, "new", NOW - timedelta(hours=1)))
    store.put_message("u1", _msg(3, "old", NOW))  # "old" becomes the most recent
    page = store.list_conversations("u1", limit=1)
    assert [c.id for c in page.items] == ["old"]
    assert page.nextCursor
    rest = store.list_conversations("u1", limit=5, cursor=page.nextCursor)
    assert [c.id for c in rest.items] == ["new"]
    assert store.get_conversation("u1", "old").title == "message 1"  # type: ignore[union-attr]

    assert store.delete_conversation("u1", "old")
    assert not store.delete_conversation("u1", "old")
    assert store.get_conversation("u1", "old") is None
    assert store.list_messages("u1", "old").items == []
    assert store.list_conversations("u2").items == []


def test_settings_merge_partial_updates_and_refuse_bad_values(
    provisioned: AwsClients, aws: Any
) -> None:
    store = SettingsStore(provisioned.dynamodb(), aws.prefix)
    assert store.get("u1").idleTimeoutMinutes == 15
    store.update("u1", {"idleTimeoutMinutes": 30})
    updated = store.update("u1", {"wakeOnConnect": False})
    assert (updated.idleTimeoutMinutes, updated.wakeOnConnect) == (30, False)
    for bad in ({"idleTimeoutMinutes": 0}, {"nosuchfield": 1}):
        with pytest.raises(InvalidRequest):
            store.update("u1", bad)
    assert store.get("u1") == updated


def test_pairing_codes_work_once_expire_and_limit_attempts(
    provisioned: AwsClients, aws: Any
) -> None:
    db = provisioned.dynamodb()
    store = TelegramStore(db, aws.prefix, CounterStore(db, aws.prefix))
    code = store.create_pairing_code("web-user")
    typed = f"{code.code[:4].lower()}-{code.code[4:]}"
    assert store.redeem_pairing_code(42, typed, attempts_per_hour=5) == "web-user"
    with pytest.raises(NotFound):
        store.redeem_pairing_code(42, code.code, attempts_per_hour=5)

    expired = store.create_pairing_code("web-user", now=NOW - timedelta(minutes=11))
    with pytest.raises(NotFound):
        store.redeem_pairing_code(43, expired.code, attempts_per_hour=5)

    fresh = store.create_pairing_code("web-user")
    for _ in range(3):
        with pytest.raises(NotFound):
            store.redeem_pairing_code(44, "AAAAAAAA", attempts_per_hour=3)
    with pytest.raises(QuotaExceeded):
        store.redeem_pairing_code(44, fresh.code, attempts_per_hour=3)  # even the right one

    link = store.link(42, "web-user", "alice")
    assert store.user_for_chat(42) == "web-user"
    store.link(99, "web-user", "alice")  # a new chat replaces the old one
    assert store.user_for_chat(42) is None
    assert store.link_of_user("web-user").chatId == 99  # type: ignore[union-attr]
    assert link.username == "alice"
    assert store.unlink_user("web-user")
    assert store.link_of_user("web-user") is None


def test_task_state_writes_are_conditional_and_agent_writes_need_the_launch(
    provisioned: AwsClients, aws: Any
) -> None:
    store = TaskStateStore(provisioned.dynamodb(), aws.prefix)
    idle = store.get("u1")
    starting = store.write(idle, apply(idle, Wake("L1", NOW)))
    with pytest.raises(ConditionFailed):  # a second writer with the same stale read loses
        store.write(idle, idle)
    with pytest.raises(TransitionRejected):
        store.transition("u1", Wake("L2", NOW))
    with pytest.raises(ConditionFailed):
        store.heartbeat("u1", "not-my-launch")
    store.mark_running("u1", "L1")
    store.heartbeat("u1", "L1", NOW + timedelta(minutes=1))
    store.record_backup("u1", "L1", NOW, 1234)
    store.set_next_wake("u1", "L1", NOW + timedelta(hours=1), "daily digest")
    store.set_phase("u1", "L1", "ready")
    row = store.get("u1")
    assert (row.state, row.last_backup_bytes, row.next_wake_job) == (
        "running",
        1234,
        "daily digest",
    )
    assert row.version == starting.version + 1  # agent attribute writes do not bump it
    store.record_failure("u1", "L1", "restore failed")
    idle_again = store.mark_idle("u1", "L1")
    assert (idle_again.state, idle_again.last_error, idle_again.launch_id) == (
        "idle",
        "restore failed",
        None,
    )
    assert idle_again.next_wake_job == "daily digest"
    with pytest.raises(ConditionFailed):
        store.heartbeat("u1", "L1")  # the launch is over


def test_counters_mark_once_until_expiry(provisioned: AwsClients, aws: Any) -> None:
    counters = CounterStore(provisioned.dynamodb(), aws.prefix)
    NOW = datetime.now(UTC)  # the module NOW dates from collection time
    assert counters.increment("k", expires_at=NOW + timedelta(minutes=1)) == 1
    assert counters.increment("k", expires_at=NOW + timedelta(minutes=1), amount=2) == 3
    assert counters.mark("m", expires_at=NOW + timedelta(minutes=1))
    assert not counters.mark("m", expires_at=NOW + timedelta(minutes=1))
    assert counters.is_marked("m")
    assert not counters.is_marked("m", now=NOW + timedelta(minutes=2))
    assert counters.mark("m", expires_at=NOW + timedelta(minutes=5), now=NOW + timedelta(minutes=2))
