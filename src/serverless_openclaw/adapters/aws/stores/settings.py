"""A user's preferences (`UserSettings`); a user who never saved any gets the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from serverless_openclaw.adapters.aws.stores._dynamo import converted, iso, now_utc
from serverless_openclaw.adapters.aws.tables import SETTINGS
from serverless_openclaw.contracts.records import UserSettings
from serverless_openclaw.core.errors import InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class SettingsStore:
    def __init__(self, client: DynamoDBClient, prefix: str) -> None:
        self._db = client
        self.table = SETTINGS.physical_name(prefix)

    def get(self, user_id: str) -> UserSettings:
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        if not item or "settings" not in item:
            return UserSettings()
        try:
            return UserSettings.model_validate_json(item["settings"]["S"])
        except ValidationError:
            return UserSettings()  # a field we no longer accept must not lock the user out

    def update(self, user_id: str, changes: dict[str, Any]) -> UserSettings:
        """Merge `changes` (a partial `UserSettings`) into the stored settings."""
        current = self.get(user_id).model_dump()
        try:
            merged = UserSettings.model_validate({**current, **changes})
        except ValidationError as exc:
            raise InvalidRequest(_first_error(exc)) from exc
        with converted():
            self._db.put_item(
                TableName=self.table,
                Item={
                    "userId": {"S": user_id},
                    "settings": {"S": merged.model_dump_json()},
                    "updatedAt": {"S": iso(now_utc()) or ""},
                },
            )
        return merged


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]
