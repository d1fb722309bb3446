"""The `memory` adapter family: every port in plain Python structures, for unit tests of the
application, the bridge and the supervisor (shipped in the package, like httpx's
MockTransport). One `MemoryPorts` is one deployment's worth of state; each port is built once
and shared, so what one handler stores the next one reads.

Identity is injected (`users`, `verifier`): the identity adapters live elsewhere, and a
factory without them says so when asked.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from serverless_openclaw.adapters.memory.blobs import BlobBucket, MemoryStateBlobs
from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.adapters.memory.compute import MemoryCompute
from serverless_openclaw.adapters.memory.conversations import MemoryConversationStore
from serverless_openclaw.adapters.memory.idempotency import MemoryIdempotency
from serverless_openclaw.adapters.memory.inbox import MemoryInbox, MemoryInboxConsumer
from serverless_openclaw.adapters.memory.push import MemoryConnections
from serverless_openclaw.adapters.memory.secrets import MemorySecrets
from serverless_openclaw.adapters.memory.stores import (
    MemoryConnectionStore,
    MemoryCounterStore,
    MemorySettingsStore,
    MemoryTelegramStore,
)
from serverless_openclaw.adapters.memory.task_state import MemoryTaskStateRows, MemoryTaskStates

if TYPE_CHECKING:
    from serverless_openclaw.ports.factory import PortFactory
    from serverless_openclaw.ports.identity import TokenVerifier, UserDirectory


class IdentityNotConfigured(RuntimeError):
    """A `MemoryPorts` was asked for identity it was not given (a wiring mistake in a test)."""


class MemoryPorts:
    """Implements `ports.factory.PortFactory`. Tests reach the recording fakes directly:
    `ports.push` (frames posted per connection), `ports.compute_tasks` (run/stop calls)."""

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        users: UserDirectory | None = None,
        verifier: TokenVerifier | None = None,
        secrets: Mapping[str, str] | None = None,
        push: bool = True,
    ) -> None:
        self.clock = clock
        self._users = users
        self._verifier = verifier
        lock = threading.RLock()
        self.task_rows = MemoryTaskStateRows(lock=lock)
        self._task_states = MemoryTaskStates(self.task_rows, clock=clock)
        self._conversations = MemoryConversationStore(self.task_rows, clock=clock)
        self._connections = MemoryConnectionStore(clock=clock)
        self._settings = MemorySettingsStore()
        self._counters = MemoryCounterStore(clock=clock)
        self._telegram = MemoryTelegramStore(self._counters, clock=clock)
        self._inbox = MemoryInbox(clock=clock)
        self.blobs = BlobBucket()
        self._secrets = MemorySecrets(secrets)
        self.compute_tasks = MemoryCompute(clock=clock)
        self.push = MemoryConnections() if push else None
        self._idempotency = MemoryIdempotency()

    def connections(self) -> MemoryConnectionStore:
        return self._connections

    def task_state(self) -> MemoryTaskStates:
        return self._task_states

    def conversations(self) -> MemoryConversationStore:
        return self._conversations

    def user_settings(self) -> MemorySettingsStore:
        return self._settings

    def counters(self) -> MemoryCounterStore:
        return self._counters

    def telegram(self) -> MemoryTelegramStore:
        return self._telegram

    def inbox(self) -> MemoryInbox:
        return self._inbox

    def inbox_consumer(self, queue_url: str) -> MemoryInboxConsumer:
        return self._inbox.consumer(queue_url)

    def state_blobs(self, prefix: str) -> MemoryStateBlobs:
        return MemoryStateBlobs(self.blobs, prefix)

    def secrets(self) -> MemorySecrets:
        return self._secrets

    def compute(self) -> MemoryCompute:
        return self.compute_tasks

    def connections_api(self) -> MemoryConnections | None:
        return self.push

    def users(self) -> UserDirectory:
        if self._users is None:
            raise IdentityNotConfigured("MemoryPorts(users=...) was not given a user directory")
        return self._users

    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            raise IdentityNotConfigured("MemoryPorts(verifier=...) was not given a verifier")
        return self._verifier

    def idempotency(self) -> MemoryIdempotency:
        return self._idempotency


if TYPE_CHECKING:

    def _is_a_port_factory(ports: MemoryPorts) -> PortFactory:
        return ports  # mypy proves every port matches its Protocol
