"""Open WebSocket connections, by id (each $default message) and by user (broadcasts)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    deserialize,
    epoch,
    iso,
    paginate,
    parse_iso,
    serialize,
)
from serverless_openclaw.adapters.aws.tables import CONNECTIONS
from serverless_openclaw.ports.stores import CONNECTION_TTL, ConnectionRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["ConnectionRecord", "ConnectionStore"]


class ConnectionStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = CONNECTIONS.physical_name(prefix)

    def put(self, connection_id: str, user_id: str, connected_at: datetime) -> None:
        with converted():
            self._db.put_item(
                TableName=self.table,
                Item=serialize(
                    {
                        "connectionId": connection_id,
                        "userId": user_id,
                        "connectedAt": iso(connected_at),
                        "expiresAt": epoch(connected_at + CONNECTION_TTL),
                    }
                ),
            )

    def get(self, connection_id: str) -> ConnectionRecord | None:
        with converted():
            answer = self._db.get_item(
                TableName=self.table,
                Key={"connectionId": {"S": connection_id}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        if not item:
            return None
        row = deserialize(item)
        return _record(row)

    def delete(self, connection_id: str) -> None:
        with converted():
            self._db.delete_item(TableName=self.table, Key={"connectionId": {"S": connection_id}})

    def for_user(self, user_id: str) -> list[ConnectionRecord]:
        """The user's connections, oldest first (the index is eventually consistent: a
        connection opened a moment ago may be missing)."""
        rows = paginate(
            self._db.query,
            "Items",
            TableName=self.table,
            IndexName=CONNECTIONS.indexes[0].name,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        return [_record(deserialize(raw)) for raw in rows]


def _record(row: dict[str, object]) -> ConnectionRecord:
    connected = parse_iso(row.get("connectedAt"))
    assert connected is not None
    return ConnectionRecord(str(row["connectionId"]), str(row["userId"]), connected)
