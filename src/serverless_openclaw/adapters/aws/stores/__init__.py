"""DynamoDB stores, one per table family, all built from the specs in `aws/tables.py`.

Each store takes a DynamoDB client and the resource prefix; botocore errors become
`core.errors` here (`ConditionFailed`, `StorageUnavailable`).
"""

from serverless_openclaw.adapters.aws.stores.connections import ConnectionRecord, ConnectionStore
from serverless_openclaw.adapters.aws.stores.conversations import ConversationStore
from serverless_openclaw.adapters.aws.stores.counters import CounterStore
from serverless_openclaw.adapters.aws.stores.settings import SettingsStore
from serverless_openclaw.adapters.aws.stores.task_state import TaskStateStore
from serverless_openclaw.adapters.aws.stores.telegram import TelegramStore

__all__ = [
    "ConnectionRecord",
    "ConnectionStore",
    "ConversationStore",
    "CounterStore",
    "SettingsStore",
    "TaskStateStore",
    "TelegramStore",
]
