"""Expiring counters and markers: rate-limit windows, quotas, deduplication.

DynamoDB's TTL deletes late (up to days), so every read here checks `expiresAt` itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from serverless_openclaw.adapters.aws.stores._dynamo import converted, epoch, now_utc
from serverless_openclaw.adapters.aws.tables import COUNTERS
from serverless_openclaw.core.errors import ConditionFailed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CounterStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = COUNTERS.physical_name(prefix)

    def increment(self, key: str, *, expires_at: datetime, amount: int = 1) -> int:
        """Atomically add `amount`; returns the new total. Use window-numbered keys
        (`rate#<user>#<minute>`) so an expired row is never read back."""
        with converted():
            answer = self._db.update_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                UpdateExpression="ADD #count :amount SET #expiresAt = :exp",
                ExpressionAttributeNames={"#count": "count", "#expiresAt": "expiresAt"},
                ExpressionAttributeValues={
                    ":amount": {"N": str(amount)},
                    ":exp": {"N": str(epoch(expires_at))},
                },
                ReturnValues="UPDATED_NEW",
            )
        return int(answer["Attributes"]["count"]["N"])

    def value(self, key: str) -> int:
        """The counter's current total (0 when it was never incremented)."""
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
            )
        item = answer.get("Item") or {}
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
