"""One adapter family, as the control plane sees it: a factory of every port.

`app.services.Services` asks it for each port on first use (a Lambda that never starts a
task never builds an ECS client). `adapters.aws.AwsPorts`, `adapters.embedded.EmbeddedPorts`
and `adapters.memory.MemoryPorts` implement it; `wiring.py` picks one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from serverless_openclaw.ports.attachments import AttachmentStore
    from serverless_openclaw.ports.blobs import StateBlobs
    from serverless_openclaw.ports.compute import Compute
    from serverless_openclaw.ports.identity import TokenVerifier, UserDirectory
    from serverless_openclaw.ports.inbox import Inbox, InboxConsumer
    from serverless_openclaw.ports.push import ConnectionsApi
    from serverless_openclaw.ports.secrets import SecretReader
    from serverless_openclaw.ports.stores import (
        ConnectionStore,
        ConversationStore,
        CounterStore,
        SettingsStore,
        TaskStates,
        TelegramStore,
    )


class PortFactory(Protocol):
    def connections(self) -> ConnectionStore: ...

    def task_state(self) -> TaskStates: ...

    def conversations(self) -> ConversationStore: ...

    def user_settings(self) -> SettingsStore: ...

    def counters(self) -> CounterStore: ...

    def telegram(self) -> TelegramStore: ...

    def inbox(self) -> Inbox: ...

    def inbox_consumer(self, queue_url: str) -> InboxConsumer: ...

    def state_blobs(self, prefix: str) -> StateBlobs:
        """The blob store scoped to one user's prefix (`agents/<user>/`)."""
        ...

    def attachments(self) -> AttachmentStore:
        """Files sent with messages, each call scoped to one user's prefix."""
        ...

    def secrets(self) -> SecretReader: ...

    def compute(self) -> Compute: ...

    def connections_api(self) -> ConnectionsApi | None:
        """None when no push endpoint is configured (pushes are then skipped)."""
        ...

    def users(self) -> UserDirectory: ...

    def verifier(self) -> TokenVerifier: ...

    def idempotency(self) -> BasePersistenceLayer:
        """Where the Telegram webhook remembers update ids it handled (powertools)."""
        ...
