"""Telegram chat <-> user links and one-time pairing codes (decision D9).

A web user asks for a code (`create_pairing_code`), sends it to the bot, and the webhook
redeems it for the chat (`redeem_pairing_code`). Codes are stored only as SHA-256 hashes,
expire after 10 minutes, work once (the redeeming delete is conditional), and each chat gets
a few attempts per hour so guessing one is hopeless.

Only a user's newest code works: beside the codes, the table holds one row per user
(`codeHash` = `user#<user id>`, never a hash: hashes are hex) naming that user's current
code. A new code replaces it (and deletes the code it named); redeeming deletes it on the
condition that it names the code presented, so a code made void by a newer one is refused
even if its row is still there (two codes made at once: the later pointer wins). Only
PutItem and DeleteItem, as before: no read permission is needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from serverless_openclaw.adapters.aws.stores._dynamo import (
    converted,
    deserialize,
    epoch,
    iso,
    now_utc,
    paginate,
    parse_iso,
    serialize,
)
from serverless_openclaw.adapters.aws.stores.counters import CounterStore
from serverless_openclaw.adapters.aws.tables import PAIRING_CODES, TELEGRAM_LINKS
from serverless_openclaw.contracts.records import PairingCode, TelegramLink
from serverless_openclaw.core import pairing
from serverless_openclaw.core.errors import ConditionFailed, NotFound

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class TelegramStore:
    def __init__(self, client: DynamoDBClient, prefix: str, counters: CounterStore) -> None:
        self._db = client
        self._counters = counters
        self.links = TELEGRAM_LINKS.physical_name(prefix)
        self.codes = PAIRING_CODES.physical_name(prefix)

    # --- links -----------------------------------------------------------------------------
    def link(self, chat_id: int, user_id: str, username: str | None = None) -> TelegramLink:
        """Link `chat_id` to `user_id`, replacing the user's earlier chat, if any."""
        for old in self._chats_of(user_id):
            if old != str(chat_id):
                self._delete_link(old)
        linked = now_utc()
        with converted():
            self._db.put_item(
                TableName=self.links,
                Item=serialize(
                    {
                        "chatId": str(chat_id),
                        "userId": user_id,
                        "username": username,
                        "linkedAt": iso(linked),
                    }
                ),
            )
        return TelegramLink(chatId=chat_id, username=username, linkedAt=linked)

    def user_for_chat(self, chat_id: int) -> str | None:
        """The web user a chat is paired with; None = an unpaired chat (it may not wake
        anything)."""
        with converted():
            answer = self._db.get_item(
                TableName=self.links, Key={"chatId": {"S": str(chat_id)}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return str(deserialize(item)["userId"]) if item else None

    def link_of_user(self, user_id: str) -> TelegramLink | None:
        """The person's chat, read from the by-user index alone (it projects every
        attribute). The agent task may only reach rows and index entries keyed by its own
        person (`dynamodb:LeadingKeys`), and a link's row is keyed by the chat: so no
        GetItem here. The index trails a relink or unlink by about a second."""
        for row in self._links_of(user_id):
            if row.get("userId") == user_id:
                linked = parse_iso(row.get("linkedAt"))
                assert linked is not None
                return TelegramLink(
                    chatId=int(row["chatId"]), username=row.get("username"), linkedAt=linked
                )
        return None

    def unlink_user(self, user_id: str) -> bool:
        chats = self._chats_of(user_id)
        for chat in chats:
            self._delete_link(chat)
        return bool(chats)

    def _links_of(self, user_id: str) -> list[dict[str, Any]]:
        rows = paginate(
            self._db.query,
            "Items",
            TableName=self.links,
            IndexName=TELEGRAM_LINKS.indexes[0].name,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        return [deserialize(raw) for raw in rows]

    def _chats_of(self, user_id: str) -> list[str]:
        return [str(row["chatId"]) for row in self._links_of(user_id)]

    def _delete_link(self, chat: str) -> None:
        with converted():
            self._db.delete_item(TableName=self.links, Key={"chatId": {"S": chat}})

    # --- pairing codes ---------------------------------------------------------------------
    def create_pairing_code(self, user_id: str, *, now: datetime | None = None) -> PairingCode:
        """A new single-use code; only its hash is stored."""
        issued = now or now_utc()
        code = pairing.generate_code()
        expires = pairing.expires_at(issued)
        hashed = pairing.hash_code(code)
        with converted():
            self._db.put_item(
                TableName=self.codes,
                Item=serialize(
                    {"codeHash": hashed, "userId": user_id, "expiresAt": epoch(expires)}
                ),
            )
            before = self._db.put_item(
                TableName=self.codes,
                Item=serialize(
                    {
                        "codeHash": _current_key(user_id),
                        "current": hashed,
                        "expiresAt": epoch(expires),
                    }
                ),
                ReturnValues="ALL_OLD",
            )
        voided = deserialize(before.get("Attributes") or {}).get("current")
        if isinstance(voided, str) and voided != hashed:
            with converted():  # tidy only: the pointer already refuses it
                self._db.delete_item(TableName=self.codes, Key={"codeHash": {"S": voided}})
        return PairingCode(code=code, expiresAt=expires)

    def redeem_pairing_code(
        self, chat_id: int, code: str, *, attempts_per_hour: int, now: datetime | None = None
    ) -> str:
        """The user the code was issued to; the code is consumed. `NotFound` for a wrong,
        used or expired code; `QuotaExceeded` after `attempts_per_hour` tries of this chat."""
        at = now or now_utc()
        attempts = self._counters.increment(
            pairing.attempts_key(chat_id, at), expires_at=at + pairing.COUNTER_TTL
        )
        if attempts > attempts_per_hour:
            raise pairing.too_many_attempts(at)
        if not pairing.may_be_code(code):
            raise NotFound("unknown or expired pairing code")
        try:
            with converted():
                answer = self._db.delete_item(
                    TableName=self.codes,
                    Key={"codeHash": {"S": pairing.hash_code(code)}},
                    ConditionExpression="attribute_exists(codeHash) AND expiresAt > :now",
                    ExpressionAttributeValues={":now": {"N": str(epoch(at))}},
                    ReturnValues="ALL_OLD",
                )
        except ConditionFailed as exc:
            raise NotFound("unknown or expired pairing code") from exc
        user_id = str(deserialize(answer["Attributes"])["userId"])
        try:
            with converted():
                self._db.delete_item(
                    TableName=self.codes,
                    Key={"codeHash": {"S": _current_key(user_id)}},
                    ConditionExpression="#c = :h",
                    ExpressionAttributeNames={"#c": "current"},
                    ExpressionAttributeValues={":h": {"S": pairing.hash_code(code)}},
                )
        except ConditionFailed as exc:  # a newer code of the user made this one void
            raise NotFound("unknown or expired pairing code") from exc
        return user_id


def _current_key(user_id: str) -> str:
    """The row naming the user's current code (`#` never occurs in a hex hash)."""
    return f"user#{user_id}"
