"""Conversations of a user (by recency) and their messages (in order, idempotent by id).

Everything is keyed by the user first (`userId`, `<userId>#<conversationId>`), so a caller
can only ever reach its own user's data: another user's conversation id simply is not there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    decode_cursor,
    deserialize,
    encode_cursor,
    iso,
    paginate,
    parse_iso,
    serialize,
)
from serverless_openclaw.adapters.aws.tables import CONVERSATIONS, MESSAGES, TASK_STATE
from serverless_openclaw.contracts.limits import MAX_CONVERSATION_TITLE
from serverless_openclaw.contracts.records import Conversation, Message, Page
from serverless_openclaw.core.errors import ConditionFailed, Fenced, StorageUnavailable
from serverless_openclaw.ports.stores import MAX_PAGE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH: Final = 25


def conversation_key(user_id: str, conversation_id: str) -> str:
    return f"{user_id}#{conversation_id}"


def _title(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= MAX_CONVERSATION_TITLE:
        return line or "Conversation"
    return line[: MAX_CONVERSATION_TITLE - 1].rstrip() + "…"


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
        }
    )


class ConversationStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.conversations = CONVERSATIONS.physical_name(prefix)
        self.messages = MESSAGES.physical_name(prefix)
        self.task_state = TASK_STATE.physical_name(prefix)

    # --- writes ----------------------------------------------------------------------------
    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        """Store a message once: a second put with the same id changes nothing and returns
        False (the bridge redelivers, clients resend). The conversation is created on its
        first message (title = that message) and moved to the top of the list."""
        created_ms = int(message.createdAt.timestamp() * 1000)
        item = {
            "conversationKey": conversation_key(user_id, message.conversationId),
            "messageId": message.id,
            "orderKey": f"{created_ms:015d}#{message.id}",
            "userId": user_id,
            "conversationId": message.conversationId,
            "role": message.role,
            "text": message.text,
            "createdAt": iso(message.createdAt),
            "source": message.source,
            "aborted": message.aborted,
            "proactive": message.proactive,
        }
        if fence is not None:
            if not self._put_fenced(user_id, item, fence):
                return False
        else:
            try:
                with converted():
                    self._db.put_item(
                        TableName=self.messages,
                        Item=serialize(item),
                        ConditionExpression="attribute_not_exists(messageId)",
                    )
            except ConditionFailed:
                return False
        self._touch(user_id, message.conversationId, message)
        return True

    def _put_fenced(self, user_id: str, item: dict[str, Any], launch_id: str) -> bool:
        """The put and a check that `launch_id` is the user's current launch, as one
        transaction; False for a duplicate, `Fenced` for a launch that is over."""
        try:
            with converted():
                self._db.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.messages,
                                "Item": serialize(item),
                                "ConditionExpression": "attribute_not_exists(messageId)",
                            }
                        },
                        {
                            "ConditionCheck": {
                                "TableName": self.task_state,
                                "Key": {"userId": {"S": user_id}},
                                "ConditionExpression": "launchId = :launch",
                                "ExpressionAttributeValues": {":launch": {"S": launch_id}},
                            }
                        },
                    ]
                )
        except ConditionFailed as exc:
            reasons = str(exc)
            if "ConditionalCheckFailed" in reasons.split("[", 1)[-1].split(",", 1)[-1]:
                raise Fenced(f"launch {launch_id[:8]} is no longer current") from exc
            return False
        return True

    def _touch(self, user_id: str, conversation_id: str, message: Message) -> None:
        stamp = iso(message.createdAt)
        try:
            with converted():
                self._db.update_item(
                    TableName=self.conversations,
                    Key={"userId": {"S": user_id}, "conversationId": {"S": conversation_id}},
                    UpdateExpression=(
                        "SET updatedAt = :u, createdAt = if_not_exists(createdAt, :u), "
                        "title = if_not_exists(title, :t)"
                    ),
                    ConditionExpression="attribute_not_exists(updatedAt) OR updatedAt < :u",
                    ExpressionAttributeValues={
                        ":u": {"S": stamp or ""},
                        ":t": {"S": _title(message.text)},
                    },
                )
        except ConditionFailed:
            pass  # a newer message already moved it up

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Delete the conversation and all its messages; False when there was none."""
        try:
            with converted():
                self._db.delete_item(
                    TableName=self.conversations,
                    Key={"userId": {"S": user_id}, "conversationId": {"S": conversation_id}},
                    ConditionExpression="attribute_exists(conversationId)",
                )
        except ConditionFailed:
            return False
        keys = [
            {"conversationKey": raw["conversationKey"], "messageId": raw["messageId"]}
            for raw in paginate(
                self._db.query,
                "Items",
                TableName=self.messages,
                KeyConditionExpression="conversationKey = :k",
                ExpressionAttributeValues={":k": {"S": conversation_key(user_id, conversation_id)}},
                ProjectionExpression="conversationKey, messageId",
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
        return _conversation(deserialize(item)) if item else None

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
