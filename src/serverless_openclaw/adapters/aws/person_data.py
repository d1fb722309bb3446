"""Erase everything stored about one person (`serverless-openclaw user remove --delete-data`,
the operator's credentials).

What is keyed by the person goes: their conversations and every message in them, their
settings, their task-state row, their Telegram links, and every version (and delete marker)
of every object under `agents/<id>/` in the versioned state bucket. Counters and pairing
codes expire by themselves (TTL); the inbox is deleted by `user remove` in any case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.adapters.aws.stores._dynamo import paginate
from serverless_openclaw.adapters.aws.tables import (
    CONVERSATIONS,
    MESSAGES,
    SETTINGS,
    TASK_STATE,
    TELEGRAM_LINKS,
)
from serverless_openclaw.ports.compute import state_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

BATCH: Final = 25
"""DynamoDB's BatchWriteItem limit."""
DELETE_OBJECTS: Final = 1000
"""S3's DeleteObjects limit."""


class AwsPersonalData:
    def __init__(
        self, dynamodb: DynamoDBClient, s3: S3Client, *, prefix: str, state_bucket: str
    ) -> None:
        self._db = dynamodb
        self._s3 = s3
        self._prefix = prefix
        self._bucket = state_bucket

    def erase(self, user_id: str) -> dict[str, int]:
        erased = {
            "messages": 0,
            "conversations": 0,
            "rows": 0,
            "telegram links": 0,
            "backup objects": 0,
        }
        conversations = CONVERSATIONS.physical_name(self._prefix)
        for row in self._query(conversations, "userId", user_id, ("conversationId",)):
            conversation = row["conversationId"]["S"]
            key = f"{user_id}#{conversation}"
            messages = MESSAGES.physical_name(self._prefix)
            keys = [
                {"conversationKey": {"S": key}, "messageId": m["messageId"]}
                for m in self._query(messages, "conversationKey", key, ("messageId",))
            ]
            self._delete_rows(messages, keys)
            erased["messages"] += len(keys)
            self._delete_rows(
                conversations,
                [{"userId": {"S": user_id}, "conversationId": {"S": conversation}}],
            )
            erased["conversations"] += 1
        for spec in (SETTINGS, TASK_STATE):
            self._delete_rows(spec.physical_name(self._prefix), [{"userId": {"S": user_id}}])
            erased["rows"] += 1
        links = TELEGRAM_LINKS.physical_name(self._prefix)
        chats = [
            {"chatId": row["chatId"]}
            for row in self._query(
                links, "userId", user_id, ("chatId",), index=TELEGRAM_LINKS.indexes[0].name
            )
        ]
        self._delete_rows(links, chats)
        erased["telegram links"] = len(chats)
        erased["backup objects"] = self._erase_objects(state_prefix(user_id))
        return erased

    def _query(
        self,
        table: str,
        attribute: str,
        value: str,
        projected: tuple[str, ...],
        *,
        index: str | None = None,
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {
                "#k": attribute,
                **{f"#p{i}": name for i, name in enumerate(projected)},
            },
            "ExpressionAttributeValues": {":v": {"S": value}},
            "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(projected))),
        }
        if index is not None:
            kwargs["IndexName"] = index
        rows: list[dict[str, Any]] = list(paginate(self._db.query, "Items", **kwargs))
        return rows

    def _delete_rows(self, table: str, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), BATCH):
            pending: Any = {
                table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH]]
            }
            while pending:
                with converted("DynamoDB", f"erase rows of {table}"):
                    answer = self._db.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or None

    def _erase_objects(self, prefix: str) -> int:
        erased = 0
        with converted("S3", f"erase {prefix}"):
            pages = self._s3.get_paginator("list_object_versions").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                versions = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for kind in ("Versions", "DeleteMarkers")
                    for v in page.get(kind, [])  # type: ignore[attr-defined]
                ]
                for start in range(0, len(versions), DELETE_OBJECTS):
                    chunk = versions[start : start + DELETE_OBJECTS]
                    self._s3.delete_objects(
                        Bucket=self._bucket,
                        Delete={"Objects": chunk, "Quiet": True},  # type: ignore[typeddict-item]
                    )
                    erased += len(chunk)
        return erased
