"""What each role may do with the tables and queues: written down once, granted by the
components, printed in docs/iam.md and checked there by a test.

Roles (`policies.ROLE_TAG`):
- `handlers`: the request Lambdas (ws_connect, ws_message, ws_disconnect, http_api,
  telegram_webhook). They share a role because each of them may queue a job and wake the
  agent; none of them scans a table or reads a dead letter.
- `watchdog`: the scheduled sweep. The only role that scans (the task-state table) and the
  only one that reads the shared dead-letter queue.
- `agent-task`: the Fargate task (bridge, supervisor) of ONE person: the rights of every
  person's own role (adapters/aws/agent_roles.py), written once with the policy variable
  `${aws:PrincipalTag/serverless-openclaw-user}` in place of the person (decision D13).
  Rows are reached only where the partition key is the person (`dynamodb:LeadingKeys`:
  their id, or `<id>#...` for messages), objects only under `agents/<id>/`, the queue only
  `<prefix>-inbox-<id>.fifo`. Two rights cannot name the person and are kept apart
  (`AGENT_UNSCOPED_TABLES`, @connections): see docs/security.md for what limits them.
- `agent-task-default`: the task definition's own task role. Every RunTask names the
  person's role instead, so it holds no right at all: a task started without one can do
  nothing.
- `agent-execution`: what ECS itself does to start the task (image, logs, secrets).

Every action is on named tables (and their indexes where a store queries one); a store that
starts using another operation fails the IAM-enforced tests until it is listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from serverless_openclaw.adapters.aws.agent_roles import PERSON
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

RoleName = Literal["handlers", "watchdog", "agent-task", "agent-task-default", "agent-execution"]
HANDLERS: Final[RoleName] = "handlers"
WATCHDOG: Final[RoleName] = "watchdog"
AGENT_TASK: Final[RoleName] = "agent-task"
AGENT_TASK_DEFAULT: Final[RoleName] = "agent-task-default"
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
    # A notice answering a message is put with checks of the conversation and the question
    # (whose order key it reads first: a reply is listed under its question).
    CONVERSATIONS: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    MESSAGES: ("GetItem", "PutItem", "ConditionCheckItem"),
    TELEGRAM_LINKS: ("GetItem", "Query"),
}
AGENT_TABLES: Final[TableAccess] = {
    TASK_STATE: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    # LLM spending: count each model call once (a marker), add it to the day and month
    # totals, read them against the budget (app/spending.py).
    COUNTERS: ("GetItem", "PutItem", "UpdateItem"),
    CONVERSATIONS: ("GetItem", "UpdateItem", "ConditionCheckItem"),
    MESSAGES: ("GetItem", "Query", "PutItem", "ConditionCheckItem"),
    CONNECTIONS: ("Query",),
    SETTINGS: ("GetItem",),
    TELEGRAM_LINKS: ("Query",),
}
"""The agent's rights on rows whose partition key (of the table, or of the by-user index it
queries) is its person: granted only under `AGENT_LEADING_KEYS`."""
AGENT_UNSCOPED_TABLES: Final[TableAccess] = {
    CONNECTIONS: ("DeleteItem",),
}
"""Forget a connection API Gateway reported gone while streaming: the row's key is the
connection id (random, unguessable), which no condition can tie to a person."""

QUERIED_INDEXES: Final[Mapping[TableSpec, bool]] = {
    spec: bool(spec.indexes) for spec in (CONNECTIONS, CONVERSATIONS, MESSAGES, TELEGRAM_LINKS)
}
"""Tables whose stores query an index: `Query` on them also names `<table>/index/*`."""

HANDLER_ATTACHMENT_ACTIONS: Final = ("s3:PutObject", "s3:GetObject")
"""Attachments (`agents/<user>/attachments/<id>`, nothing else of the state bucket): a
presigned upload form or download link carries the rights of the role that signed it, the
Telegram webhook stores a person's file, and `HeadObject` (checking an attachment a message
names) is `s3:GetObject`."""

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
    "sqs:GetQueueAttributes",
)
"""The bridge long-polls its inbox, deletes a job once answered, extends or releases it; the
supervisor counts what waits there before it pre-warms (agent/prewarm.py)."""

AGENT_LEADING_KEYS: Final = (PERSON, f"{PERSON}#*")
"""`dynamodb:LeadingKeys` the agent may touch: the person's id (task state, conversations,
settings, and the by-user indexes of connections and Telegram links) and `<id>#<conversation>`
(messages). User ids never contain `#` (queue names allow `[A-Za-z0-9_-]`)."""
