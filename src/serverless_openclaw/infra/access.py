"""What each role may do with the tables and queues: written down once, granted by the
components, printed in docs/iam.md and checked there by a test.

Roles (`policies.ROLE_TAG`):
- `handlers`: the request Lambdas (ws_connect, ws_message, ws_disconnect, http_api,
  telegram_webhook). They share a role because each of them may queue a job and wake the
  agent; none of them scans a table or reads a dead letter.
- `watchdog`: the scheduled sweep. The only role that scans (the task-state table) and the
  only one that reads the shared dead-letter queue.
- `agent-task`: the Fargate task (bridge, supervisor). Its resources are functions of the
  user so that scoping each task to its own user's data (decision D13) changes arguments,
  not structure.
- `agent-execution`: what ECS itself does to start the task (image, logs, secrets).

Every action is on named tables (and their indexes where a store queries one); a store that
starts using another operation fails the IAM-enforced tests until it is listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from serverless_openclaw.adapters.aws.tables import (
    CONNECTIONS,
    CONVERSATIONS,
    COUNTERS,
    IDEMPOTENCY,
    MESSAGES,
    PAIRING_CODES,
    SETTINGS,
    TASK_STATE,
    TELEGRAM_LINKS,
    TableSpec,
)

RoleName = Literal["handlers", "watchdog", "agent-task", "agent-execution"]
HANDLERS: Final[RoleName] = "handlers"
WATCHDOG: Final[RoleName] = "watchdog"
AGENT_TASK: Final[RoleName] = "agent-task"
AGENT_EXECUTION: Final[RoleName] = "agent-execution"

TableAccess = Mapping[TableSpec, tuple[str, ...]]

HANDLER_TABLES: Final[TableAccess] = {
    CONNECTIONS: ("GetItem", "PutItem", "DeleteItem", "Query"),
    TASK_STATE: ("GetItem", "UpdateItem"),
    # A message is put in one transaction with a check that its conversation was not deleted.
    CONVERSATIONS: ("GetItem", "Query", "UpdateItem", "DeleteItem", "ConditionCheckItem"),
    MESSAGES: ("GetItem", "Query", "PutItem", "BatchWriteItem"),
    SETTINGS: ("GetItem", "PutItem"),
    TELEGRAM_LINKS: ("GetItem", "Query", "PutItem", "DeleteItem"),
    PAIRING_CODES: ("PutItem", "DeleteItem"),
    COUNTERS: ("GetItem", "PutItem", "UpdateItem"),
    IDEMPOTENCY: ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
}
WATCHDOG_TABLES: Final[TableAccess] = {
    TASK_STATE: ("Scan", "GetItem", "UpdateItem"),
    SETTINGS: ("GetItem",),
    COUNTERS: ("GetItem", "UpdateItem"),
    CONNECTIONS: ("Query", "DeleteItem"),
    # A notice answering a message is put with checks of the conversation and the question.
    CONVERSATIONS: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    MESSAGES: ("PutItem", "ConditionCheckItem"),
    TELEGRAM_LINKS: ("GetItem", "Query"),
}
AGENT_TABLES: Final[TableAccess] = {
    TASK_STATE: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    CONVERSATIONS: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    MESSAGES: ("GetItem", "Query", "PutItem", "ConditionCheckItem"),
    CONNECTIONS: ("Query", "DeleteItem"),
    SETTINGS: ("GetItem",),
    TELEGRAM_LINKS: ("GetItem", "Query"),
}

QUERIED_INDEXES: Final[Mapping[TableSpec, bool]] = {
    spec: bool(spec.indexes) for spec in (CONNECTIONS, CONVERSATIONS, MESSAGES, TELEGRAM_LINKS)
}
"""Tables whose stores query an index: `Query` on them also names `<table>/index/*`."""

HANDLER_QUEUE_ACTIONS: Final = ("sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:SendMessage")
"""Create a person's inbox on first need (with its redrive policy), find it, queue a job."""
WATCHDOG_QUEUE_ACTIONS: Final = (
    "sqs:CreateQueue",
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
)
"""Wake an agent (its inbox may be created then), and count the jobs a crashed task left."""
DEAD_LETTER_ACTIONS: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage")
"""The watchdog takes dead letters off the shared queue once the person has been told."""
AGENT_QUEUE_ACTIONS: Final = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
)
"""The bridge long-polls its inbox, deletes a job once answered, extends or releases it."""
