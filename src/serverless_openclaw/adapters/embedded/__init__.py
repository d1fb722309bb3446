"""The `embedded` adapter family: the local product's durable storage — one SQLite database
(WAL, synchronous writes) and a directory of versioned blobs under the state dir, shared by
the local stack and its agent task processes. It passes the same contract suite as the `aws`
and `memory` families (tests/contracts/).

`identity.py` and `compute.py` here are the local stack's identity provider and compute,
injected into `EmbeddedPorts` by the local stack.
"""

from serverless_openclaw.adapters.embedded.blobs import BlobDirectory, EmbeddedStateBlobs
from serverless_openclaw.adapters.embedded.conversations import EmbeddedConversationStore
from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.embedded.idempotency import EmbeddedIdempotency
from serverless_openclaw.adapters.embedded.inbox import EmbeddedInbox, EmbeddedInboxConsumer
from serverless_openclaw.adapters.embedded.ports import EmbeddedPorts, PortNotConfigured
from serverless_openclaw.adapters.embedded.secrets import EmbeddedSecrets
from serverless_openclaw.adapters.embedded.stores import (
    EmbeddedConnectionStore,
    EmbeddedCounterStore,
    EmbeddedSettingsStore,
    EmbeddedTelegramStore,
)
from serverless_openclaw.adapters.embedded.task_state import (
    EmbeddedTaskStateRows,
    EmbeddedTaskStates,
)

__all__ = [
    "BlobDirectory",
    "Database",
    "EmbeddedConnectionStore",
    "EmbeddedConversationStore",
    "EmbeddedCounterStore",
    "EmbeddedIdempotency",
    "EmbeddedInbox",
    "EmbeddedInboxConsumer",
    "EmbeddedPorts",
    "EmbeddedSecrets",
    "EmbeddedSettingsStore",
    "EmbeddedStateBlobs",
    "EmbeddedTaskStateRows",
    "EmbeddedTaskStates",
    "EmbeddedTelegramStore",
    "PortNotConfigured",
]
