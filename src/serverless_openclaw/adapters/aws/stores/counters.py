"""Expiring counters and markers: rate-limit windows, quotas, deduplication.

DynamoDB's TTL deletes late (up to days), so every read here checks `expiresAt` itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from serverless_openclaw.adapters.aws.stores._dynamo import converted, epoch, now_utc
from serverless_openclaw.adapters.aws.tables import COUNTERS
from serverless_openclaw.core.errors import ConditionFailed, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RACE_ATTEMPTS = 5
"""An expired counter reopened by several writers at once: each retries as an addition."""


class CounterStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = COUNTERS.physical_name(prefix)

    def increment(self, key: str, *, expires_at: datetime, amount: int = 1) -> int:
        """Atomically add `amount`; returns the new total. A counter whose `expiresAt` has
        passed (TTL had not deleted it yet) starts again from zero. Use window-numbered keys
        (`rate#<user>#<minute>`) so that windows never share a row."""
        for _ in range(_RACE_ATTEMPTS):
            current = {":now": {"N": str(epoch(now_utc()))}}
            try:
                with converted():
                    answer = self._db.update_item(
                        TableName=self.table,
                        Key={"id": {"S": key}},
                        UpdateExpression="ADD #count :amount SET #expiresAt = :exp",
                        ConditionExpression="attribute_not_exists(id) OR #expiresAt > :now",
                        ExpressionAttributeNames={"#count": "count", "#expiresAt": "expiresAt"},
                        ExpressionAttributeValues={
                            ":amount": {"N": str(amount)},
                            ":exp": {"N": str(epoch(expires_at))},
                            **current,
                        },
                        ReturnValues="UPDATED_NEW",
                    )
                return int(answer["Attributes"]["count"]["N"])
            except ConditionFailed:
                pass
            try:  # the row has expired: this increment opens it again
                with converted():
                    self._db.update_item(
                        TableName=self.table,
                        Key={"id": {"S": key}},
                        UpdateExpression="SET #count = :amount, #expiresAt = :exp",
                        ConditionExpression="#expiresAt <= :now",
                        ExpressionAttributeNames={"#count": "count", "#expiresAt": "expiresAt"},
                        ExpressionAttributeValues={
                            ":amount": {"N": str(amount)},
                            ":exp": {"N": str(epoch(expires_at))},
                            **current,
                        },
                    )
                return amount
            except ConditionFailed:
                continue  # someone else reopened it first: add to theirs
        raise StorageUnavailable(f"counter {key!r} kept changing under concurrent writers")

    def value(self, key: str) -> int:
        """The counter's current total (0 when it was never incremented or has expired)."""
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
            )
        item = answer.get("Item") or {}
        if not item or int(item.get("expiresAt", {}).get("N", "0")) <= epoch(now_utc()):
            return 0
        return int(item.get("count", {}).get("N", "0"))

    def mark(self, key: str, *, expires_at: datetime, now: datetime | None = None) -> bool:
        """Set a marker; True if it was not set (or had expired), False if it already was."""
        current = epoch(now or now_utc())
        try:
            with converted():
                self._db.put_item(
                    TableName=self.table,
                    Item={"id": {"S": key}, "expiresAt": {"N": str(epoch(expires_at))}},
                    ConditionExpression="attribute_not_exists(id) OR expiresAt <= :now",
                    ExpressionAttributeValues={":now": {"N": str(current)}},
                )
        except ConditionFailed:
            return False
        return True

    def is_marked(self, key: str, *, now: datetime | None = None) -> bool:
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
            )
        item = answer.get("Item")
        if not item:
            return False
        return int(item["expiresAt"]["N"]) > epoch(now or now_utc())
