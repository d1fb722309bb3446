"""The `memory` adapter family: every port in plain Python structures, thread-safe, with an
injectable clock (`FakeClock`) so unit tests never sleep. It passes the same contract suite
as the `aws` and `embedded` families (tests/contracts/).

    ports = MemoryPorts(clock=FakeClock())
    services = Services(settings, ports)
    ...
    ports.push.frames(connection_id)      # what the browser would have received
    ports.compute_tasks.runs              # the tasks the control plane started
"""

from serverless_openclaw.adapters.memory.blobs import BlobBucket, MemoryStateBlobs
from serverless_openclaw.adapters.memory.clock import Clock, FakeClock, utc_now
from serverless_openclaw.adapters.memory.compute import MemoryCompute
from serverless_openclaw.adapters.memory.conversations import MemoryConversationStore
from serverless_openclaw.adapters.memory.idempotency import MemoryIdempotency
from serverless_openclaw.adapters.memory.inbox import MemoryInbox, MemoryInboxConsumer
from serverless_openclaw.adapters.memory.ports import IdentityNotConfigured, MemoryPorts
from serverless_openclaw.adapters.memory.push import MemoryConnections
from serverless_openclaw.adapters.memory.secrets import MemorySecrets
from serverless_openclaw.adapters.memory.stores import (
    MemoryConnectionStore,
    MemoryCounterStore,
    MemorySettingsStore,
    MemoryTelegramStore,
)
from serverless_openclaw.adapters.memory.task_state import MemoryTaskStateRows, MemoryTaskStates

__all__ = [
    "BlobBucket",
    "Clock",
    "FakeClock",
    "IdentityNotConfigured",
    "MemoryCompute",
    "MemoryConnectionStore",
    "MemoryConnections",
    "MemoryConversationStore",
    "MemoryCounterStore",
    "MemoryIdempotency",
    "MemoryInbox",
    "MemoryInboxConsumer",
    "MemoryPorts",
    "MemorySecrets",
    "MemorySettingsStore",
    "MemoryStateBlobs",
    "MemoryTaskStateRows",
    "MemoryTaskStates",
    "MemoryTelegramStore",
    "utc_now",
]
