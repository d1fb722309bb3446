"""The agent's side of one user's inbox, for the families that keep every user's inbox in
one place (SQLite, memory): the consumer is an address, and each call names its user.

SQS gives each user a queue of its own, so the aws consumer talks to that queue; here one
store serves every inbox, so the consumer only turns `queue_url` into the user and fills in
the port's defaults (SQS's: the queue's visibility timeout, a 20-second long poll).
"""

from __future__ import annotations

from typing import Protocol

from serverless_openclaw.adapters.store_rules import user_of
from serverless_openclaw.ports.inbox import MAX_WAIT_S, VISIBILITY_TIMEOUT_S, ReceivedJob


class UserQueues(Protocol):
    """Every user's inbox in one store, each call naming the user."""

    def receive_for(
        self, user_id: str, max_messages: int, wait_seconds: float, visibility_s: float
    ) -> list[ReceivedJob]: ...

    def delete_for(self, user_id: str, receipt_handle: str) -> None: ...

    def change_visibility_for(self, user_id: str, receipt_handle: str, seconds: int) -> None: ...

    def depth(self, user_id: str) -> int: ...


class UserInboxConsumer:
    """`ports.inbox.InboxConsumer` for the inbox at `queue_url` (`<scheme><user id>`)."""

    def __init__(self, queues: UserQueues, queue_url: str, scheme: str) -> None:
        self._queues = queues
        self._user = user_of(queue_url, scheme)
        self.queue_url = queue_url

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: int = MAX_WAIT_S,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedJob]:
        visibility = VISIBILITY_TIMEOUT_S if visibility_timeout is None else visibility_timeout
        return self._queues.receive_for(self._user, max_messages, wait_seconds, visibility)

    def delete(self, receipt_handle: str) -> None:
        self._queues.delete_for(self._user, receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self._queues.change_visibility_for(self._user, receipt_handle, seconds)

    def depth(self) -> int:
        return self._queues.depth(self._user)
