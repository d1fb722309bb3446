"""Conversations of a user (by recency) and their messages (in order, idempotent by id).

Everything is keyed by the user first (`userId`, `<userId>#<conversationId>`), so a caller
can only ever reach its own user's data: another user's conversation id simply is not there.

The rules of `ports.stores.ConversationStore`, in DynamoDB terms:
- order: `orderKey` (`byOrder` index) is `<created ms>#<id>`; a reply's extends its question's
  (`adapters/store_rules.py`), so it lists directly under the question;
- deletion leaves a tombstone: the conversation row loses `updatedAt` (it drops out of the
  sparse `byRecency` index) and keeps `deletedAt`; every message put is one transaction with
  a check of that row (no message created at or before `deletedAt` gets in), of the question
  a reply answers (still there), and, when fenced, of the task-state row's `launchId`;
- a refused transaction is told apart by its `CancellationReasons`, one per item, in order.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from serverless_openclaw.adapters.aws.errors import error_code
from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    decode_cursor,
    deserialize,
    encode_cursor,
    iso,
    now_utc,
    paginate,
    parse_iso,
    serialize,
)
from serverless_openclaw.adapters.aws.tables import CONVERSATIONS, MESSAGES, TASK_STATE
from serverless_openclaw.adapters.store_rules import order_key, reply_order_key, title_of
from serverless_openclaw.contracts.records import Conversation, Message, Page
from serverless_openclaw.core.errors import (
    ConditionFailed,
    ConversationDeleted,
    Fenced,
    StorageUnavailable,
)
from serverless_openclaw.ports.stores import MAX_PAGE, MAX_RACE_RETRIES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

BATCH: Final = 25
TRANSACT_ATTEMPTS: Final = 3


def conversation_key(user_id: str, conversation_id: str) -> str:
    return f"{user_id}#{conversation_id}"


def cancellation_codes(exc: ClientError) -> list[str]:
    """The reason of each item of a cancelled transaction, in order ("None" for those that
    were fine): how DynamoDB says which condition failed."""
    reasons = exc.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def _conversation(row: dict[str, Any]) -> Conversation:
    created = parse_iso(row.get("createdAt"))
    updated = parse_iso(row.get("updatedAt"))
    assert created is not None
    assert updated is not None
    return Conversation(
        id=row["conversationId"], title=row.get("title", ""), createdAt=created, updatedAt=updated
    )


def _message(row: dict[str, Any]) -> Message:
    return Message.model_validate(
        {
            "id": row["messageId"],
            "conversationId": row["conversationId"],
            "role": row["role"],
            "text": row.get("text", ""),
            "createdAt": row["createdAt"],
            "source": row.get("source", "web"),
            "aborted": bool(row.get("aborted", False)),
            "proactive": bool(row.get("proactive", False)),
            "inReplyTo": row.get("inReplyTo"),
            "error": row.get("error"),
        }
    )


class ConversationStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.conversations = CONVERSATIONS.physical_name(prefix)
        self.messages = MESSAGES.physical_name(prefix)
        self.task_state = TASK_STATE.physical_name(prefix)

    def _conversation_key(self, user_id: str, conversation_id: str) -> dict[str, Any]:
        return {"userId": {"S": user_id}, "conversationId": {"S": conversation_id}}

    def _message_key(self, user_id: str, conversation_id: str, message_id: str) -> dict[str, Any]:
        return {
            "conversationKey": {"S": conversation_key(user_id, conversation_id)},
            "messageId": {"S": message_id},
        }

    # --- writes ----------------------------------------------------------------------------
    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        """Store a message once: a second put with the same id changes nothing and returns
        False (the bridge redelivers, clients resend). The conversation is created on its
        first message (title = that message) and moved to the top of the list. See the
        module docstring for replies, deletion and fencing."""
        created = iso(message.createdAt) or ""
        key = order_key(message.createdAt, message.id)
        checks: list[tuple[str, TransactWriteItemTypeDef]] = []
        if message.inReplyTo is not None:
            question = self._order_key_of(user_id, message.conversationId, message.inReplyTo)
            if question is not None:
                key = reply_order_key(question, message.createdAt, message.id)
                checks.append(("question", self._question_check(user_id, message)))
            elif self._deleted_at(user_id, message.conversationId) is not None:
                raise ConversationDeleted("the question this answers was deleted")
        item = {
            "conversationKey": conversation_key(user_id, message.conversationId),
            "messageId": message.id,
            "orderKey": key,
            "userId": user_id,
            "conversationId": message.conversationId,
            "role": message.role,
            "text": message.text,
            "createdAt": created,
            "source": message.source,
            "aborted": message.aborted,
            "proactive": message.proactive,
            "inReplyTo": message.inReplyTo,
            "error": message.error.model_dump() if message.error else None,
        }
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.messages,
                "Item": serialize(item),
                "ConditionExpression": "attribute_not_exists(messageId)",
            }
        }
        tombstone: TransactWriteItemTypeDef = {
            "ConditionCheck": {
                "TableName": self.conversations,
                "Key": self._conversation_key(user_id, message.conversationId),
                "ConditionExpression": "attribute_not_exists(deletedAt) OR deletedAt < :created",
                "ExpressionAttributeValues": {":created": {"S": created}},
            }
        }
        checks.append(("deleted", tombstone))
        if fence is not None:
            checks.append(("fence", self._fence_check(user_id, fence)))
        failed = self._transact([("put", put), *checks])
        if "fence" in failed:
            raise Fenced(f"launch {(fence or '')[:8]} is no longer current")
        if "put" in failed:
            return False
        if failed:
            raise ConversationDeleted("the conversation was deleted after this message")
        self._touch(user_id, message.conversationId, message)
        return True

    def _question_check(self, user_id: str, message: Message) -> TransactWriteItemTypeDef:
        assert message.inReplyTo is not None
        return {
            "ConditionCheck": {
                "TableName": self.messages,
                "Key": self._message_key(user_id, message.conversationId, message.inReplyTo),
                "ConditionExpression": "attribute_exists(messageId)",
            }
        }

    def _fence_check(self, user_id: str, launch_id: str) -> TransactWriteItemTypeDef:
        return {
            "ConditionCheck": {
                "TableName": self.task_state,
                "Key": {"userId": {"S": user_id}},
                "ConditionExpression": "launchId = :launch",
                "ExpressionAttributeValues": {":launch": {"S": launch_id}},
            }
        }

    def _transact(self, items: list[tuple[str, TransactWriteItemTypeDef]]) -> set[str]:
        """Run the items as one transaction; the names of those whose condition failed (empty
        when it committed). A conflict with a concurrent transaction is retried."""
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                with converted():
                    try:
                        self._db.transact_write_items(TransactItems=[item for _, item in items])
                    except ClientError as exc:
                        if error_code(exc) != "TransactionCanceledException":
                            raise
                        reasons = cancellation_codes(exc)
                        if "TransactionConflict" in reasons and attempt + 1 < TRANSACT_ATTEMPTS:
                            time.sleep(0.02 * 2**attempt)
                            continue
                        if len(reasons) != len(items) or any(
                            code not in ("None", "ConditionalCheckFailed") for code in reasons
                        ):
                            raise
                        return {
                            name
                            for (name, _), code in zip(items, reasons, strict=True)
                            if code == "ConditionalCheckFailed"
                        }
            except ConditionFailed as exc:  # cancelled for a reason other than a condition
                raise StorageUnavailable(f"DynamoDB transaction cancelled: {exc}") from exc
            return set()
        raise StorageUnavailable("DynamoDB transaction kept conflicting")  # pragma: no cover

    def _order_key_of(self, user_id: str, conversation_id: str, message_id: str) -> str | None:
        with converted():
            answer = self._db.get_item(
                TableName=self.messages,
                Key=self._message_key(user_id, conversation_id, message_id),
                ConsistentRead=True,
                ProjectionExpression="orderKey",
            )
        item = answer.get("Item")
        return str(deserialize(item)["orderKey"]) if item else None

    def _deleted_at(self, user_id: str, conversation_id: str) -> str | None:
        with converted():
            answer = self._db.get_item(
                TableName=self.conversations,
                Key=self._conversation_key(user_id, conversation_id),
                ConsistentRead=True,
                ProjectionExpression="deletedAt",
            )
        item = answer.get("Item")
        deleted = deserialize(item).get("deletedAt") if item else None
        return str(deleted) if deleted else None

    def _touch(self, user_id: str, conversation_id: str, message: Message) -> None:
        stamp = iso(message.createdAt)
        try:
            with converted():
                self._db.update_item(
                    TableName=self.conversations,
                    Key=self._conversation_key(user_id, conversation_id),
                    UpdateExpression=(
                        "SET updatedAt = :u, createdAt = if_not_exists(createdAt, :u), "
                        "title = if_not_exists(title, :t)"
                    ),
                    ConditionExpression=(
                        "(attribute_not_exists(updatedAt) OR updatedAt < :u) "
                        "AND (attribute_not_exists(deletedAt) OR deletedAt < :u)"
                    ),
                    ExpressionAttributeValues={
                        ":u": {"S": stamp or ""},
                        ":t": {"S": title_of(message.text)},
                    },
                )
        except ConditionFailed:
            pass  # a newer message already moved it up, or it was deleted meanwhile

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Delete the conversation and all its messages, leaving a tombstone; False when
        there was none. The tombstone is written first, so a put racing the deletion either
        lands before it (and is deleted with the rest) or is refused."""
        for _ in range(MAX_RACE_RETRIES):
            with converted():
                answer = self._db.get_item(
                    TableName=self.conversations,
                    Key=self._conversation_key(user_id, conversation_id),
                    ConsistentRead=True,
                )
            row = deserialize(answer["Item"]) if "Item" in answer else {}
            updated = row.get("updatedAt")
            if not updated:
                return False
            # Every stored message is covered, even one stamped ahead of this clock.
            deleted_at = max(iso(now_utc()) or "", str(updated))
            try:
                with converted():
                    self._db.update_item(
                        TableName=self.conversations,
                        Key=self._conversation_key(user_id, conversation_id),
                        UpdateExpression="SET deletedAt = :d REMOVE updatedAt, createdAt, title",
                        ConditionExpression="updatedAt = :seen",
                        ExpressionAttributeValues={
                            ":d": {"S": deleted_at},
                            ":seen": {"S": str(updated)},
                        },
                    )
            except ConditionFailed:
                continue  # a message arrived (or another delete won): look again
            break
        else:
            raise ConditionFailed(f"conversation {conversation_id} kept changing")
        keys = [
            {"conversationKey": raw["conversationKey"], "messageId": raw["messageId"]}
            for raw in paginate(
                self._db.query,
                "Items",
                TableName=self.messages,
                KeyConditionExpression="conversationKey = :k",
                ExpressionAttributeValues={":k": {"S": conversation_key(user_id, conversation_id)}},
                ProjectionExpression="conversationKey, messageId",
                ConsistentRead=True,
            )
        ]
        for start in range(0, len(keys), BATCH):
            self._delete_batch(keys[start : start + BATCH])
        return True

    def _delete_batch(self, keys: list[dict[str, Any]]) -> None:
        pending: Any = {self.messages: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for attempt in range(6):
            with converted():
                answer = self._db.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)
        raise StorageUnavailable("DynamoDB kept throttling message deletes")

    # --- reads -----------------------------------------------------------------------------
    def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None:
        with converted():
            answer = self._db.get_item(
                TableName=self.conversations,
                Key={"userId": {"S": user_id}, "conversationId": {"S": conversation_id}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        row = deserialize(item) if item else {}
        return _conversation(row) if row.get("updatedAt") else None  # else a tombstone

    def has_message(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        """Whether a message with this id is stored (the bridge's "answered already?")."""
        with converted():
            answer = self._db.get_item(
                TableName=self.messages,
                Key={
                    "conversationKey": {"S": conversation_key(user_id, conversation_id)},
                    "messageId": {"S": message_id},
                },
                ConsistentRead=True,
                ProjectionExpression="messageId",
            )
        return "Item" in answer

    def list_conversations(
        self, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """Most recently updated first; `cursor` comes from the previous page's `nextCursor`."""
        kwargs: dict[str, Any] = {
            "TableName": self.conversations,
            "IndexName": CONVERSATIONS.indexes[0].name,
            "KeyConditionExpression": "userId = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        start = decode_cursor(cursor, expect={"userId": user_id})
        if start:
            kwargs["ExclusiveStartKey"] = start
        with converted():
            answer = self._db.query(**kwargs)
        items = [_conversation(deserialize(raw)) for raw in answer.get("Items", [])]
        return Page[Conversation](
            items=items, nextCursor=encode_cursor(answer.get("LastEvaluatedKey"))
        )

    def list_messages(
        self,
        user_id: str,
        conversation_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Message]:
        """Oldest first, in the order they were created."""
        key = conversation_key(user_id, conversation_id)
        kwargs: dict[str, Any] = {
            "TableName": self.messages,
            "IndexName": MESSAGES.indexes[0].name,
            "KeyConditionExpression": "conversationKey = :k",
            "ExpressionAttributeValues": {":k": {"S": key}},
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        start = decode_cursor(cursor, expect={"conversationKey": key})
        if start:
            kwargs["ExclusiveStartKey"] = start
        with converted():
            answer = self._db.query(**kwargs)
        items = [_message(deserialize(raw)) for raw in answer.get("Items", [])]
        return Page[Message](items=items, nextCursor=encode_cursor(answer.get("LastEvaluatedKey")))
