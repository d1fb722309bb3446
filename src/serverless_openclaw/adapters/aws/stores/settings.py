"""A user's preferences (`UserSettings`). Only what a person chose is stored; every other
field comes from the deployment's defaults (`defaults`, e.g. the idle timeout of `deploy
--idle-timeout`), so changing a default reaches everyone who never chose otherwise."""

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
    def __init__(
        self, client: DynamoDBClient, prefix: str, *, defaults: UserSettings | None = None
    ) -> None:
        self._db = client
        self.table = SETTINGS.physical_name(prefix)
        self.defaults = defaults or UserSettings()

    def _chosen(self, user_id: str) -> dict[str, Any]:
        """The fields this person chose (as stored)."""
        with converted():
            answer = self._db.get_item(
                TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        if not item or "settings" not in item:
            return {}
        try:
            stored = UserSettings.model_validate_json(item["settings"]["S"])
        except ValidationError:
            return {}  # a field we no longer accept must not lock the user out
        return stored.model_dump(exclude_unset=True)

    def get(self, user_id: str) -> UserSettings:
        return self._effective(self._chosen(user_id))

    def _effective(self, chosen: dict[str, Any]) -> UserSettings:
        return UserSettings.model_validate({**self.defaults.model_dump(), **chosen})

    def update(self, user_id: str, changes: dict[str, Any]) -> UserSettings:
        """Merge `changes` (a partial `UserSettings`) into what the person chose."""
        chosen = {**self._chosen(user_id), **changes}
        try:
            effective = self._effective(chosen)
            stored = UserSettings.model_validate(chosen)
        except ValidationError as exc:
            raise InvalidRequest(_first_error(exc)) from exc
        with converted():
            self._db.put_item(
                TableName=self.table,
                Item={
                    "userId": {"S": user_id},
                    "settings": {"S": stored.model_dump_json(exclude_unset=True)},
                    "updatedAt": {"S": iso(now_utc()) or ""},
                },
            )
        return effective


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]
