"""The inbox: FIFO per message group, one job of a group in flight at a time, a second group
not blocked by the first, visibility timeouts and receive counts, deduplication by job id,
dead letters after `MAX_RECEIVES` deliveries, long polls that return as soon as a job comes.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, WebReplyTo
from serverless_openclaw.core.errors import InvalidRequest, NotFound, StorageUnavailable
from serverless_openclaw.ports.inbox import DEDUPE_WINDOW_S, MAX_RECEIVES, InboxConsumer

from .conftest import Family


def _chat(n: int, at: datetime, user: str = "u1") -> ChatJob:
    return ChatJob(
        jobId=f"job-{n:05d}",
        userId=user,
        source="web",
        conversationId="main",
        text=f"hello {n}",
        replyTo=WebReplyTo(),
        receivedAt=at,
    )


def _control(n: int, at: datetime, user: str = "u1") -> ControlJob:
    return ControlJob(jobId=f"ctl-{n:05d}", userId=user, command="abort", receivedAt=at)


def _consumer(family: Family, user: str = "u1") -> InboxConsumer:
    return family.ports.inbox_consumer(family.ports.inbox().queue_url(user))


def _ids(consumer: InboxConsumer, **kwargs: int) -> list[str]:
    return [r.job.jobId for r in consumer.receive(wait_seconds=0, **kwargs) if r.job]


def test_an_inbox_is_made_on_first_need_and_removed_with_its_user(family: Family) -> None:
    inbox = family.ports.inbox()
    with pytest.raises(NotFound):
        inbox.queue_url("u1", create=False)
    assert inbox.depth("u1") == 0
    url = inbox.queue_url("u1")
    assert inbox.queue_url("u1", create=False) == url == family.ports.inbox().queue_url("u1")
    inbox.send(_chat(1, family.now(), user="u2"))  # sending makes the inbox too
    assert inbox.inbox_users() == ["u1", "u2"]
    with pytest.raises(InvalidRequest):
        inbox.queue_url("a/b")

    consumer = _consumer(family, "u2")
    inbox.delete_inbox("u2")
    inbox.delete_inbox("never-had-one")
    assert inbox.inbox_users() == ["u1"]
    assert inbox.depth("u2") == 0
    with pytest.raises(NotFound):
        inbox.queue_url("u2", create=False)
    with pytest.raises(NotFound):  # a task still polling a removed inbox is told so
        consumer.receive(wait_seconds=0)


def test_a_job_arrives_as_it_was_sent(family: Family) -> None:
    inbox = family.ports.inbox()
    job = _chat(1, family.now())
    message_id = inbox.send(job)
    [received] = _consumer(family).receive(wait_seconds=0)
    assert received.job == job
    assert received.message_id == message_id
    assert received.receive_count == 1
    assert ChatJob.model_validate_json(received.body) == job


def test_the_agent_counts_what_waits_in_its_own_inbox(family: Family) -> None:
    """What the supervisor asks before it pre-warms: waiting and in-flight jobs, by the
    queue's URL alone (the agent's role has no `GetQueueUrl`)."""
    consumer = _consumer(family)
    assert consumer.depth() == 0
    family.ports.inbox().send(_chat(1, family.now()))
    family.ports.inbox().send(_chat(2, family.now(), user="u2"))  # someone else's
    assert consumer.depth() == 1
    [received] = consumer.receive(wait_seconds=0)
    assert consumer.depth() == 1  # in flight still counts: a turn is about to run
    consumer.delete(received.receipt_handle)
    assert consumer.depth() == 0


def test_jobs_of_a_group_come_one_at_a_time_in_order(family: Family) -> None:
    inbox = family.ports.inbox()
    for n in range(1, 6):
        inbox.send(_chat(n, family.now()))
    consumer = _consumer(family)
    assert inbox.depth("u1") == 5
    seen: list[str] = []
    for _ in range(5):
        [received] = consumer.receive(wait_seconds=0)
        assert received.job is not None
        seen.append(received.job.jobId)
        assert _ids(consumer) == []  # the group waits while its job is in flight
        assert inbox.depth("u1") == 5 - len(seen) + 1  # waiting + in flight
        consumer.delete(received.receipt_handle)
    assert seen == [f"job-{n:05d}" for n in range(1, 6)]
    assert inbox.depth("u1") == 0
    assert _ids(consumer) == []


def test_a_second_group_is_not_blocked_by_the_first(family: Family) -> None:
    inbox = family.ports.inbox()
    now = family.now()
    inbox.send(_chat(1, now))
    inbox.send(_chat(2, now))
    inbox.send(_control(1, now))  # "abort" while the turn of job 1 runs
    consumer = _consumer(family)
    [turn] = consumer.receive(wait_seconds=0)
    assert _ids(consumer) == ["ctl-00001"]
    assert _ids(consumer) == []
    consumer.delete(turn.receipt_handle)
    assert _ids(consumer) == ["job-00002"]


def test_a_job_not_deleted_comes_back_after_its_visibility_timeout(family: Family) -> None:
    inbox = family.ports.inbox()
    inbox.send(_chat(1, family.now()))
    consumer = _consumer(family)
    [first] = consumer.receive(wait_seconds=0, visibility_timeout=1)
    assert _ids(consumer) == []
    family.advance(1.2)
    [second] = consumer.receive(wait_seconds=0, visibility_timeout=30)
    assert (second.message_id, second.receive_count) == (first.message_id, 2)
    assert second.receipt_handle != first.receipt_handle
    consumer.change_visibility(second.receipt_handle, 0)  # handed back at once
    [third] = consumer.receive(wait_seconds=0)
    assert third.receive_count == 3
    consumer.change_visibility(third.receipt_handle, 600)  # kept longer
    assert _ids(consumer) == []
    consumer.delete(third.receipt_handle)
    assert inbox.depth("u1") == 0
    with pytest.raises(StorageUnavailable):  # nothing left to keep hidden
        consumer.change_visibility(third.receipt_handle, 30)


def test_a_job_sent_twice_is_queued_once(family: Family) -> None:
    inbox = family.ports.inbox()
    job = _chat(1, family.now())
    inbox.send(job)
    inbox.send(job)
    assert inbox.depth("u1") == 1
    consumer = _consumer(family)
    [received] = consumer.receive(wait_seconds=0, max_messages=10)
    consumer.delete(received.receipt_handle)
    assert _ids(consumer) == []


def test_the_dedupe_window_outlives_the_job_and_then_ends(family: Family) -> None:
    family.not_on_moto("forgets a deduplication id once its message is deleted")
    family.travel()
    inbox = family.ports.inbox()
    job = _chat(1, family.now())
    inbox.send(job)
    consumer = _consumer(family)
    [received] = consumer.receive(wait_seconds=0)
    consumer.delete(received.receipt_handle)
    family.advance(DEDUPE_WINDOW_S - 10)
    inbox.send(job)  # a client's late resend
    assert inbox.depth("u1") == 0
    family.advance(11)
    inbox.send(job)
    assert _ids(consumer) == ["job-00001"]


def test_a_job_handed_back_too_often_leaves_the_inbox(family: Family) -> None:
    inbox = family.ports.inbox()
    inbox.send(_chat(1, family.now()))
    inbox.send(_chat(2, family.now()))
    consumer = _consumer(family)
    counts: list[int] = []
    for _ in range(MAX_RECEIVES):
        [received] = consumer.receive(wait_seconds=0)
        assert received.job is not None and received.job.jobId == "job-00001"
        counts.append(received.receive_count)
        consumer.change_visibility(received.receipt_handle, 0)
    assert counts == list(range(1, MAX_RECEIVES + 1))
    assert _ids(consumer) == ["job-00002"]  # job 1 is dead-lettered, the group moves on
    assert inbox.depth("u1") == 1


def test_dead_letters_are_taken_until_dropped(family: Family) -> None:
    inbox = family.ports.inbox()
    inbox.send(_chat(1, family.now()))
    inbox.send(_chat(7, family.now(), user="u2"))
    for user in ("u1", "u2"):
        consumer = _consumer(family, user)
        for _ in range(MAX_RECEIVES):
            [received] = consumer.receive(wait_seconds=0)
            consumer.change_visibility(received.receipt_handle, 0)
        assert _ids(consumer) == []

    dead = inbox.dead_letters(max_jobs=10)
    assert sorted((d.job.userId, d.job.jobId) for d in dead if d.job) == [
        ("u1", "job-00001"),
        ("u2", "job-00007"),
    ]
    assert inbox.dead_letters() == []  # taken: hidden until dropped or timed out
    for letter in dead:
        inbox.drop_dead_letter(letter.receipt_handle)
    assert inbox.dead_letters() == []


def test_a_dead_letter_not_dropped_comes_back(family: Family) -> None:
    family.travel()
    inbox = family.ports.inbox()
    inbox.send(_chat(1, family.now()))
    consumer = _consumer(family)
    for _ in range(MAX_RECEIVES):
        [received] = consumer.receive(wait_seconds=0)
        consumer.change_visibility(received.receipt_handle, 0)
    assert _ids(consumer) == []
    [taken] = inbox.dead_letters()
    family.advance(3600)
    [again] = inbox.dead_letters()
    assert again.message_id == taken.message_id
    inbox.drop_dead_letter(again.receipt_handle)
    family.advance(3600)
    assert inbox.dead_letters() == []


def test_a_long_poll_returns_as_soon_as_a_job_is_sent(family: Family) -> None:
    inbox = family.ports.inbox()
    consumer = _consumer(family)
    sender = threading.Timer(0.3, lambda: inbox.send(_chat(1, family.now())))
    started = time.monotonic()
    sender.start()
    try:
        received = consumer.receive(wait_seconds=10)
    finally:
        sender.join()
    waited = time.monotonic() - started
    assert [r.job.jobId for r in received if r.job] == ["job-00001"]
    assert 0.25 < waited < 3.0
