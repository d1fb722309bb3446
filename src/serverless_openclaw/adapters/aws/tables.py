"""The DynamoDB tables: one definition used by the CDK stacks, the local stack and the tests.

Every table is on-demand, keyed by strings unless noted, and named `<prefix>-<name>` so that
IAM policies can be scoped to the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

KeyType = Literal["S", "N"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None
    local: bool = False
    """A local secondary index shares the table's partition key (consistent reads allowed)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition: Key
    sort: Key | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None
    purpose: str = ""

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.name}"


CONNECTIONS: Final = TableSpec(
    name="connections",
    partition=Key("connectionId"),
    indexes=(Index("byUser", Key("userId"), Key("connectedAt")),),
    ttl_attribute="expiresAt",
    purpose="open WebSocket connections, by id and by user (API Gateway closes them after 2 h)",
)
TASK_STATE: Final = TableSpec(
    name="task-state",
    partition=Key("userId"),
    purpose="one row per user: the agent task's state machine, changed by conditional writes",
)
CONVERSATIONS: Final = TableSpec(
    name="conversations",
    partition=Key("userId"),
    sort=Key("conversationId"),
    indexes=(Index("byRecency", Key("userId"), Key("updatedAt"), local=True),),
    purpose="a user's conversations, listed by recency",
)
MESSAGES: Final = TableSpec(
    name="messages",
    partition=Key("conversationKey"),
    sort=Key("messageId"),
    indexes=(Index("byOrder", Key("conversationKey"), Key("orderKey"), local=True),),
    purpose="messages of a conversation (key <userId>#<conversationId>), idempotent by id, "
    "read in order through byOrder (<createdAt ms>#<messageId>)",
)
SETTINGS: Final = TableSpec(
    name="settings",
    partition=Key("userId"),
    purpose="a user's preferences",
)
TELEGRAM_LINKS: Final = TableSpec(
    name="telegram-links",
    partition=Key("chatId"),
    indexes=(Index("byUser", Key("userId")),),
    purpose="Telegram chat <-> user links (chatId as a decimal string)",
)
PAIRING_CODES: Final = TableSpec(
    name="pairing-codes",
    partition=Key("codeHash"),
    ttl_attribute="expiresAt",
    purpose="one-time pairing codes, stored as hashes, expiring",
)
COUNTERS: Final = TableSpec(
    name="counters",
    partition=Key("id"),
    ttl_attribute="expiresAt",
    purpose="rate-limit windows, quotas and deduplication markers, all expiring",
)
IDEMPOTENCY: Final = TableSpec(
    name="idempotency",
    partition=Key("id"),
    ttl_attribute="expiration",
    purpose="aws-lambda-powertools idempotency records (Telegram update ids)",
)

ALL_TABLES: Final[tuple[TableSpec, ...]] = (
    CONNECTIONS,
    TASK_STATE,
    CONVERSATIONS,
    MESSAGES,
    SETTINGS,
    TELEGRAM_LINKS,
    PAIRING_CODES,
    COUNTERS,
    IDEMPOTENCY,
)
