"""The `embedded` adapter family: every port on one SQLite database under the state dir
(`<root>/state.db`) and a directory of versioned blobs (`<root>/blobs/`) — the local
product's durable storage. Several processes may open the same root at once (the local stack
and each agent task); each port is built once per `EmbeddedPorts`.

Compute, push (the API Gateway emulator's @connections), the user directory and the token
verifier are the local stack's own and are injected; asking for one that was not given is a
wiring mistake and says so. The push client is made for these ports alone and closes with
them.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Final

from serverless_openclaw.adapters.embedded.attachments import embedded_attachments
from serverless_openclaw.adapters.embedded.blobs import BlobDirectory, EmbeddedStateBlobs
from serverless_openclaw.adapters.embedded.conversations import EmbeddedConversationStore
from serverless_openclaw.adapters.embedded.database import FILENAME, Database
from serverless_openclaw.adapters.embedded.idempotency import EmbeddedIdempotency
from serverless_openclaw.adapters.embedded.inbox import EmbeddedInbox, EmbeddedInboxConsumer
from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections
from serverless_openclaw.adapters.embedded.secrets import EmbeddedSecrets
from serverless_openclaw.adapters.embedded.stores import (
    EmbeddedConnectionStore,
    EmbeddedCounterStore,
    EmbeddedSettingsStore,
    EmbeddedTelegramStore,
)
from serverless_openclaw.adapters.embedded.task_state import EmbeddedTaskStates
from serverless_openclaw.adapters.signed_attachments import SignedAttachments
from serverless_openclaw.adapters.store_rules import Clock, utc_now

if TYPE_CHECKING:
    from serverless_openclaw.ports.compute import Compute
    from serverless_openclaw.ports.factory import PortFactory
    from serverless_openclaw.ports.identity import TokenVerifier, UserDirectory
    from serverless_openclaw.ports.push import ConnectionsApi

BLOBS: Final = "blobs"


class PortNotConfigured(RuntimeError):
    """An `EmbeddedPorts` was asked for a port the local stack did not inject."""


class EmbeddedPorts:
    """Implements `ports.factory.PortFactory` on `<root>/state.db` and `<root>/blobs/`."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock = utc_now,
        connections_api: LoopbackConnections | None = None,
        compute: Compute | None = None,
        users: UserDirectory | None = None,
        verifier: TokenVerifier | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        self.db = Database(root / FILENAME)
        self.blobs = BlobDirectory(root / BLOBS)
        self._connections_api = connections_api
        self._compute = compute
        self._users = users
        self._verifier = verifier

    def close(self) -> None:
        """Close this process's connections to the database and the push client's pool."""
        self.db.close()
        if self._connections_api is not None:
            self._connections_api.close()

    @cached_property
    def _counters(self) -> EmbeddedCounterStore:
        return EmbeddedCounterStore(self.db, clock=self.clock)

    @cached_property
    def _inbox(self) -> EmbeddedInbox:
        return EmbeddedInbox(self.db, clock=self.clock)

    @cached_property
    def _attachments(self) -> SignedAttachments:
        return embedded_attachments(self.root, self.blobs, clock=self.clock)

    @cached_property
    def _secrets(self) -> EmbeddedSecrets:
        return EmbeddedSecrets(self.db)

    def connections(self) -> EmbeddedConnectionStore:
        return EmbeddedConnectionStore(self.db, clock=self.clock)

    def task_state(self) -> EmbeddedTaskStates:
        return EmbeddedTaskStates(self.db, clock=self.clock)

    def conversations(self) -> EmbeddedConversationStore:
        return EmbeddedConversationStore(self.db, clock=self.clock)

    def user_settings(self) -> EmbeddedSettingsStore:
        return EmbeddedSettingsStore(self.db, clock=self.clock)

    def counters(self) -> EmbeddedCounterStore:
        return self._counters

    def telegram(self) -> EmbeddedTelegramStore:
        return EmbeddedTelegramStore(self.db, self._counters, clock=self.clock)

    def inbox(self) -> EmbeddedInbox:
        return self._inbox

    def inbox_consumer(self, queue_url: str) -> EmbeddedInboxConsumer:
        return self._inbox.consumer(queue_url)

    def state_blobs(self, prefix: str) -> EmbeddedStateBlobs:
        return EmbeddedStateBlobs(self.blobs, prefix)

    def attachments(self) -> SignedAttachments:
        return self._attachments

    def secrets(self) -> EmbeddedSecrets:
        return self._secrets

    def compute(self) -> Compute:
        if self._compute is None:
            raise PortNotConfigured("EmbeddedPorts(compute=...) was not given a compute backend")
        return self._compute

    def connections_api(self) -> ConnectionsApi | None:
        return self._connections_api

    def users(self) -> UserDirectory:
        if self._users is None:
            raise PortNotConfigured("EmbeddedPorts(users=...) was not given a user directory")
        return self._users

    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            raise PortNotConfigured("EmbeddedPorts(verifier=...) was not given a verifier")
        return self._verifier

    def idempotency(self) -> EmbeddedIdempotency:
        return EmbeddedIdempotency(self.db)


if TYPE_CHECKING:

    def _is_a_port_factory(ports: EmbeddedPorts) -> PortFactory:
        return ports  # mypy proves every port matches its Protocol
