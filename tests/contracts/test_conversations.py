"""ConversationStore: idempotent puts, order (replies under their question), pages and
cursors, final deletion, fenced writes — the same on every family."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from serverless_openclaw.contracts.frames import ReplyError
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import ConversationDeleted, Fenced, InvalidRequest
from serverless_openclaw.core.task_state import Wake
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.ports.stores import ConversationStore

from .conftest import Family


def _msg(
    n: int,
    at: datetime,
    conversation: str = "c1",
    *,
    role: str = "user",
    reply_to: str | None = None,
    text: str | None = None,
) -> Message:
    return Message.model_validate(
        {
            "id": f"m-{n:04d}",
            "conversationId": conversation,
            "role": role,
            "text": text or f"message {n}",
            "createdAt": at,
            "inReplyTo": reply_to,
        }
    )


def _all_messages(store: ConversationStore, user: str, conversation: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page = store.list_messages(user, conversation, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        ids.extend(m.id for m in page.items)
        cursor = page.nextCursor
        if not cursor:
            return ids
    raise AssertionError("the cursors never ended")


def test_a_message_is_stored_once_and_listed_oldest_first_across_pages(family: Family) -> None:
    store = family.ports.conversations()
    t0 = family.now() - timedelta(minutes=5)
    for n in reversed(range(7)):  # stored out of order
        assert store.put_message("u1", _msg(n, t0 + timedelta(seconds=n)))
    again = _msg(3, t0 + timedelta(seconds=3), text="changed")
    assert store.put_message("u1", again) is False

    assert _all_messages(store, "u1", "c1", limit=3) == [f"m-{n:04d}" for n in range(7)]
    page = store.list_messages("u1", "c1", limit=100)
    assert page.items[3].text == "message 3"
    assert page.items[3].createdAt == t0 + timedelta(seconds=3)
    assert page.nextCursor is None
    assert store.has_message("u1", "c1", "m-0003")
    assert not store.has_message("u1", "c1", "m-9999")


def test_concurrent_puts_of_one_message_store_it_once(family: Family) -> None:
    family.races()
    store = family.ports.conversations()
    message = _msg(1, family.now())
    barrier = threading.Barrier(6)
    results: list[bool] = []

    def put() -> None:
        barrier.wait()
        results.append(store.put_message("u1", message))

    threads = [threading.Thread(target=put) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert [m.id for m in store.list_messages("u1", "c1").items] == ["m-0001"]


def test_conversations_are_listed_most_recent_first_with_their_first_message_as_title(
    family: Family,
) -> None:
    store = family.ports.conversations()
    now = family.now()
    store.put_message("u1", _msg(1, now - timedelta(hours=2), "old", text="Plan the  trip\n"))
    store.put_message("u1", _msg(2, now - timedelta(hours=1), "new"))
    store.put_message("u1", _msg(3, now - timedelta(minutes=1), "old"))  # "old" moves up
    store.put_message("u1", _msg(4, now - timedelta(hours=3), "new"))  # a late older one: no

    first = store.list_conversations("u1", limit=1)
    assert [c.id for c in first.items] == ["old"]
    assert first.nextCursor
    rest = store.list_conversations("u1", limit=5, cursor=first.nextCursor)
    assert [c.id for c in rest.items] == ["new"]
    old = store.get_conversation("u1", "old")
    assert old is not None
    assert (old.title, old.createdAt, old.updatedAt) == (
        "Plan the trip",
        now - timedelta(hours=2),
        now - timedelta(minutes=1),
    )
    assert store.list_conversations("u2").items == []


def test_a_cursor_is_refused_when_another_user_presents_it(family: Family) -> None:
    store = family.ports.conversations()
    now = family.now()
    for n in range(3):
        store.put_message("u1", _msg(n, now + timedelta(seconds=n), f"c{n}"))
        store.put_message("u1", _msg(10 + n, now + timedelta(seconds=n), "c0"))
    conversations = store.list_conversations("u1", limit=1).nextCursor
    messages = store.list_messages("u1", "c0", limit=1).nextCursor
    assert conversations and messages
    with pytest.raises(InvalidRequest):
        store.list_conversations("u2", cursor=conversations)
    with pytest.raises(InvalidRequest):
        store.list_messages("u2", "c0", cursor=messages)
    with pytest.raises(InvalidRequest):
        store.list_messages("u1", "c1", cursor=messages)  # another conversation's
    for garbage in ("not a cursor!", "eyJ4IjoxfQ", messages[:-3]):
        with pytest.raises(InvalidRequest):
            store.list_messages("u1", "c0", cursor=garbage)


def test_another_users_conversation_is_not_there(family: Family) -> None:
    store = family.ports.conversations()
    store.put_message("u1", _msg(1, family.now()))
    assert store.get_conversation("u2", "c1") is None
    assert not store.has_message("u2", "c1", "m-0001")
    assert store.list_messages("u2", "c1").items == []
    assert store.delete_conversation("u2", "c1") is False
    assert store.get_conversation("u1", "c1") is not None


def test_replies_are_listed_under_their_question_after_a_reload(family: Family) -> None:
    store = family.ports.conversations()
    t = family.now()
    for n in (1, 2, 3):  # three questions sent back to back
        store.put_message("u1", _msg(n, t + timedelta(milliseconds=n)))
    for n, delay in ((2, 9), (1, 12), (3, 15)):  # answered later, in any order
        reply = _msg(10 + n, t + timedelta(seconds=delay), role="assistant", reply_to=f"m-{n:04d}")
        assert store.put_message("u1", reply)
    store.put_message("u1", _msg(4, t + timedelta(seconds=20)))  # the next question

    reloaded = family.ports.conversations()
    expected = ["m-0001", "m-0011", "m-0002", "m-0012", "m-0003", "m-0013", "m-0004"]
    assert _all_messages(reloaded, "u1", "c1", limit=100) == expected
    assert _all_messages(reloaded, "u1", "c1", limit=2) == expected
    listed = reloaded.list_messages("u1", "c1").items
    assert listed[1].inReplyTo == "m-0001"
    assert listed[0].inReplyTo is None


def test_a_message_comes_back_as_it_was_stored(family: Family) -> None:
    store = family.ports.conversations()
    t = family.now()
    question = _msg(1, t, text="What is the weather?")
    reply = Message.model_validate(
        {
            "id": "m-0001:r",
            "conversationId": "c1",
            "role": "assistant",
            "text": "The model is unavailable.",
            "createdAt": t + timedelta(seconds=2, microseconds=654321),
            "source": "agent",
            "aborted": True,
            "inReplyTo": "m-0001",
            "error": ReplyError(code="model_error", message="unavailable", retryable=True),
        }
    )
    store.put_message("u1", question)
    store.put_message("u1", reply)
    assert store.list_messages("u1", "c1").items == [question, reply]


def test_a_reply_to_a_message_that_was_never_stored_is_listed_by_its_time(
    family: Family,
) -> None:
    store = family.ports.conversations()
    t = family.now()
    store.put_message("u1", _msg(1, t))
    assert store.put_message("u1", _msg(2, t + timedelta(seconds=1), reply_to="m-none"))
    store.put_message("u1", _msg(3, t + timedelta(seconds=2)))
    assert _all_messages(store, "u1", "c1", limit=10) == ["m-0001", "m-0002", "m-0003"]


def test_a_deleted_conversation_stays_deleted_but_can_start_afresh(family: Family) -> None:
    store = family.ports.conversations()
    before = family.now() - timedelta(minutes=1)
    store.put_message("u1", _msg(1, before, text="first life"))
    store.put_message("u1", _msg(2, before + timedelta(seconds=1)))

    assert store.delete_conversation("u1", "c1") is True
    assert store.delete_conversation("u1", "c1") is False
    assert store.get_conversation("u1", "c1") is None
    assert store.list_messages("u1", "c1").items == []
    assert store.list_conversations("u1").items == []
    assert not store.has_message("u1", "c1", "m-0001")

    with pytest.raises(ConversationDeleted):  # a late retry of a deleted message
        store.put_message("u1", _msg(1, before, text="first life"))
    late_reply = _msg(3, family.now() + timedelta(minutes=1), role="assistant", reply_to="m-0001")
    with pytest.raises(ConversationDeleted):  # its question went with the conversation
        store.put_message("u1", late_reply)
    assert store.list_messages("u1", "c1").items == []
    assert store.get_conversation("u1", "c1") is None

    after = family.now() + timedelta(minutes=2)
    assert store.put_message("u1", _msg(4, after, text="second life"))
    assert store.put_message("u1", _msg(5, after + timedelta(seconds=1), reply_to="m-0004"))
    conversation = store.get_conversation("u1", "c1")
    assert conversation is not None and conversation.title == "second life"
    assert [m.id for m in store.list_messages("u1", "c1").items] == ["m-0004", "m-0005"]
    with pytest.raises(ConversationDeleted):  # the tombstone outlives the new start
        store.put_message("u1", _msg(2, before + timedelta(seconds=1)))


def _launch(ports: PortFactory, user: str, launch_id: str, at: datetime) -> None:
    ports.task_state().transition(user, Wake(launch_id, at))


def test_a_fenced_put_is_stored_only_while_its_launch_is_current(family: Family) -> None:
    store = family.ports.conversations()
    now = family.now()
    with pytest.raises(Fenced):  # no task state at all
        store.put_message("u1", _msg(1, now), fence="L1")
    assert not store.has_message("u1", "c1", "m-0001")

    _launch(family.ports, "u1", "L1", now)
    assert store.put_message("u1", _msg(1, now), fence="L1") is True
    assert store.put_message("u1", _msg(1, now), fence="L1") is False  # a duplicate
    with pytest.raises(Fenced):
        store.put_message("u1", _msg(2, now), fence="L0")
    with pytest.raises(Fenced):  # a duplicate from a stale launch is still fenced
        store.put_message("u1", _msg(1, now), fence="L0")
    assert not store.has_message("u1", "c1", "m-0002")

    family.ports.task_state().mark_idle("u1", "L1")  # the launch is over
    with pytest.raises(Fenced):
        store.put_message("u1", _msg(3, now, role="assistant", reply_to="m-0001"), fence="L1")
    assert [m.id for m in store.list_messages("u1", "c1").items] == ["m-0001"]
    assert store.put_message("u1", _msg(3, now + timedelta(seconds=1)))  # unfenced: fine
