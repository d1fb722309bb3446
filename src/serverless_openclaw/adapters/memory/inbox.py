"""The per-user FIFO inbox in memory, with SQS's semantics (the contract suite holds it to
the SQS adapter): FIFO per message group, one job of a group in flight at a time,
deduplication by job id for 5 minutes, visibility timeouts, receive counts, and dead-lettering
after `MAX_RECEIVES` deliveries into one dead-letter queue shared by every user.

Time (visibility, dedupe) is the injected clock's; a long poll waits in real time, up to
`wait_seconds`, and returns as soon as a send makes a job available (or the clock is moved
past a visibility timeout: waiters look again every `poll_interval_s`).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.adapters.store_rules import check_user_id, parse_job, utc
from serverless_openclaw.adapters.user_inbox import UserInboxConsumer
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, message_group
from serverless_openclaw.core.errors import NotFound, StorageUnavailable
from serverless_openclaw.ports.inbox import (
    DEDUPE_WINDOW_S,
    MAX_RECEIVES,
    MAX_WAIT_S,
    VISIBILITY_TIMEOUT_S,
    DeadLetter,
    ReceivedJob,
)

URL_SCHEME: Final = "memory://inbox/"
DEAD_LETTER_VISIBILITY_S: Final = VISIBILITY_TIMEOUT_S
"""How long a taken dead letter stays hidden before it comes back undropped."""
POLL_INTERVAL_S: Final = 0.05


@dataclass
class _Message:
    seq: int
    message_id: str
    group: str
    body: str
    visible_at: float = 0.0
    receive_count: int = 0
    handles: set[str] = field(default_factory=set)


@dataclass
class _Queue:
    messages: list[_Message] = field(default_factory=list)
    dedupe: dict[str, tuple[str, float]] = field(default_factory=dict)
    """job id -> (message id, until)."""


@dataclass
class _DeadLetter:
    seq: int
    user_id: str
    message: _Message
    visible_at: float = 0.0
    handle: str = ""


class MemoryInbox:
    """The producer side and the operator's view; `consumer(url)` is the agent's side."""

    def __init__(self, *, clock: Clock = utc_now, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self._clock = clock
        self._poll_s = poll_interval_s
        self._changed = threading.Condition()
        self._queues: dict[str, _Queue] = {}
        self._dead: list[_DeadLetter] = []
        self._seq = itertools.count(1)

    def _now(self) -> float:
        return utc(self._clock()).timestamp()

    # --- producer --------------------------------------------------------------------------
    def queue_url(self, user_id: str, *, create: bool = True) -> str:
        check_user_id(user_id)
        with self._changed:
            if user_id not in self._queues:
                if not create:
                    raise NotFound(f"no inbox for {user_id}")
                self._queues[user_id] = _Queue()
        return URL_SCHEME + user_id

    def send(self, job: ChatJob | ControlJob) -> str:
        self.queue_url(job.userId)
        now = self._now()
        with self._changed:
            queue = self._queues.setdefault(job.userId, _Queue())
            queue.dedupe = {k: v for k, v in queue.dedupe.items() if v[1] > now}
            seen = queue.dedupe.get(job.jobId)
            if seen is not None and seen[1] > now:
                return seen[0]
            message = _Message(
                seq=next(self._seq),
                message_id=str(uuid.uuid4()),
                group=message_group(job),
                body=job.model_dump_json(),
            )
            queue.messages.append(message)
            queue.dedupe[job.jobId] = (message.message_id, now + DEDUPE_WINDOW_S)
            self._changed.notify_all()
            return message.message_id

    def depth(self, user_id: str) -> int:
        with self._changed:
            queue = self._queues.get(user_id)
            return len(queue.messages) if queue else 0

    # --- dead letters ----------------------------------------------------------------------
    def dead_letters(self, *, max_jobs: int = 10) -> list[DeadLetter]:
        now = self._now()
        taken: list[DeadLetter] = []
        with self._changed:
            for dead in self._dead:
                if len(taken) >= max(1, min(max_jobs, 10)):
                    break
                if dead.visible_at > now:
                    continue
                dead.visible_at = now + DEAD_LETTER_VISIBILITY_S
                dead.handle = f"dead:{dead.message.message_id}:{uuid.uuid4().hex}"
                taken.append(
                    DeadLetter(
                        job=parse_job(dead.message.body),
                        body=dead.message.body,
                        receipt_handle=dead.handle,
                        message_id=dead.message.message_id,
                    )
                )
        return taken

    def drop_dead_letter(self, receipt_handle: str) -> None:
        with self._changed:
            self._dead = [d for d in self._dead if d.handle != receipt_handle]

    # --- teardown --------------------------------------------------------------------------
    def delete_inbox(self, user_id: str) -> None:
        with self._changed:
            self._queues.pop(user_id, None)
            self._dead = [d for d in self._dead if d.user_id != user_id]

    def inbox_users(self) -> list[str]:
        with self._changed:
            return sorted(self._queues)

    # --- consumer side (used by MemoryInboxConsumer) ---------------------------------------
    def consumer(self, queue_url: str) -> MemoryInboxConsumer:
        return MemoryInboxConsumer(self, queue_url)

    def _claim(self, user_id: str, max_messages: int, visibility_s: float) -> list[ReceivedJob]:
        """Under the lock: hand out the visible head of each group, oldest first, one per
        group (the next job of a group waits until this one is deleted or visible again)."""
        now = self._now()
        queue = self._queues.get(user_id)
        if queue is None:
            raise NotFound(f"no inbox for {user_id}")
        received: list[ReceivedJob] = []
        served: set[str] = set()
        while len(received) < max_messages:
            head = _first_ready(queue.messages, served, now)
            if head is None:
                break
            if head.receive_count >= MAX_RECEIVES:
                queue.messages.remove(head)
                self._dead.append(_DeadLetter(next(self._seq), user_id, head))
                continue
            head.receive_count += 1
            head.visible_at = now + visibility_s
            handle = f"{head.message_id}:{head.receive_count}:{uuid.uuid4().hex[:8]}"
            head.handles.add(handle)
            served.add(head.group)
            received.append(
                ReceivedJob(
                    job=parse_job(head.body),
                    body=head.body,
                    receipt_handle=handle,
                    message_id=head.message_id,
                    receive_count=head.receive_count,
                )
            )
        return received

    def receive_for(
        self, user_id: str, max_messages: int, wait_seconds: float, visibility_s: float
    ) -> list[ReceivedJob]:
        deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT_S))
        count = max(1, min(max_messages, 10))
        with self._changed:
            while True:
                received = self._claim(user_id, count, visibility_s)
                remaining = deadline - time.monotonic()
                if received or remaining <= 0:
                    return received
                self._changed.wait(min(remaining, self._poll_s))

    def _find(self, user_id: str, receipt_handle: str) -> _Message | None:
        queue = self._queues.get(user_id)
        if queue is None:
            return None
        for message in queue.messages:
            if receipt_handle in message.handles:
                return message
        return None

    def delete_for(self, user_id: str, receipt_handle: str) -> None:
        with self._changed:
            message = self._find(user_id, receipt_handle)
            if message is not None:
                self._queues[user_id].messages.remove(message)
                self._changed.notify_all()

    def change_visibility_for(self, user_id: str, receipt_handle: str, seconds: int) -> None:
        with self._changed:
            message = self._find(user_id, receipt_handle)
            if message is None:
                raise StorageUnavailable("inbox: the receipt handle is not valid (job gone)")
            message.visible_at = self._now() + max(0, seconds)
            self._changed.notify_all()


def _first_ready(messages: list[_Message], served: set[str], now: float) -> _Message | None:
    """The oldest group head that is visible, skipping groups already served."""
    seen: set[str] = set()
    for message in messages:
        if message.group in seen:
            continue
        seen.add(message.group)
        if message.group not in served and message.visible_at <= now:
            return message
    return None


class MemoryInboxConsumer(UserInboxConsumer):
    """The agent's side of one user's inbox."""

    def __init__(self, inbox: MemoryInbox, queue_url: str) -> None:
        super().__init__(inbox, queue_url, URL_SCHEME)
