"""The durable hand-off from the control plane to the agent (decision D1): one FIFO inbox
per user, with a dead-letter queue.

Semantics every adapter keeps (the contract suite checks them):
- FIFO per message group (`contracts.jobs.message_group`): a group hands out its next job
  only after the one in flight is deleted or becomes visible again;
- deduplication by job id for 5 minutes (a resend queues nothing);
- a received job is invisible for the visibility timeout, then delivered again with a higher
  `receive_count`; after `MAX_RECEIVES` deliveries it moves to the dead-letter queue;
- with `max_messages` > 1, SQS may hand out several jobs of one group in one call (in order);
  the memory and embedded inboxes hand out one per group per call: rely on neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from serverless_openclaw.contracts.jobs import ChatJob, ControlJob

MAX_RECEIVES: Final = 5
"""Deliveries before a job goes to the dead-letter queue."""
VISIBILITY_TIMEOUT_S: Final = 900
MAX_WAIT_S: Final = 20
DEDUPE_WINDOW_S: Final = 300


@dataclass(frozen=True)
class ReceivedJob:
    """One delivery. `job` is None when the body is not a valid job (poison);
    `receive_count` counts deliveries of this message, this one included."""

    job: ChatJob | ControlJob | None
    body: str
    receipt_handle: str
    message_id: str
    receive_count: int


@dataclass(frozen=True)
class DeadLetter:
    """A job that exhausted its deliveries."""

    job: ChatJob | ControlJob | None
    body: str
    receipt_handle: str
    message_id: str


class Inbox(Protocol):
    """The producer side (Lambda handlers) and the operator's view of every user's inbox."""

    def queue_url(self, user_id: str, *, create: bool = True) -> str:
        """The user's inbox address (what the task is told), creating the inbox and its
        dead-letter queue when `create` is set; `NotFound` when missing and not `create`."""
        ...

    def send(self, job: ChatJob | ControlJob) -> str:
        """Durably queue `job`; returns a message id. The same job id twice within 5 minutes
        is queued once."""
        ...

    def depth(self, user_id: str) -> int:
        """Jobs waiting or in flight (0 with no inbox)."""
        ...

    def dead_letters(self, *, max_jobs: int = 10) -> list[DeadLetter]:
        """Take jobs that exhausted their deliveries, whoever they belong to (`job.userId`);
        each must be `drop_dead_letter`ed once handled, or it comes back."""
        ...

    def drop_dead_letter(self, receipt_handle: str) -> None: ...

    def delete_inbox(self, user_id: str) -> None:
        """Remove the user's inbox and dead-letter queue (nothing when there is none)."""
        ...

    def inbox_users(self) -> list[str]:
        """Users who have an inbox (for teardown)."""
        ...


class InboxConsumer(Protocol):
    """The agent's side of one user's inbox."""

    queue_url: str

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: int = MAX_WAIT_S,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedJob]:
        """Long-poll up to `wait_seconds` (<= 20) for up to `max_messages` (<= 10) jobs."""
        ...

    def delete(self, receipt_handle: str) -> None:
        """The job is done: it will not be delivered again."""
        ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Keep a job hidden longer, or with 0 hand it back at once. `StorageUnavailable`
        when the job is no longer there (deleted), as SQS refuses the handle."""
        ...

    def depth(self) -> int:
        """Jobs waiting or in flight in this inbox (approximate, as SQS reports it). The
        agent asks by its queue's URL: its role may read its own queue's attributes and
        nothing else of SQS (no `GetQueueUrl`)."""
        ...
