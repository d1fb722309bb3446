"""The small stores in SQLite: connections, settings, counters and markers, Telegram links
and pairing codes. Expiry is checked against the injected clock on every read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.store_rules import (
    Clock,
    epoch,
    first_error,
    iso,
    parse_iso,
    utc,
    utc_now,
)
from serverless_openclaw.contracts.records import PairingCode, TelegramLink, UserSettings
from serverless_openclaw.core import pairing
from serverless_openclaw.core.errors import InvalidRequest, NotFound
from serverless_openclaw.ports.stores import CONNECTION_TTL, ConnectionRecord, CounterStore


class EmbeddedConnectionStore:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def _oldest_live(self) -> str:
        return iso(utc(self._clock()) - CONNECTION_TTL)

    def put(self, connection_id: str, user_id: str, connected_at: datetime) -> None:
        with self._db.write() as db:
            db.execute(
                "INSERT INTO connections (connection_id, user_id, connected_at) VALUES (?, ?, ?) "
                "ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id, "
                "connected_at = excluded.connected_at",
                (connection_id, user_id, iso(connected_at)),
            )

    def get(self, connection_id: str) -> ConnectionRecord | None:
        row = self._db.query_one(
            "SELECT connection_id, user_id, connected_at FROM connections "
            "WHERE connection_id = ? AND connected_at > ?",
            (connection_id, self._oldest_live()),
        )
        return _connection(row) if row else None

    def delete(self, connection_id: str) -> None:
        with self._db.write() as db:
            db.execute("DELETE FROM connections WHERE connection_id = ?", (connection_id,))

    def for_user(self, user_id: str) -> list[ConnectionRecord]:
        rows = self._db.query(
            "SELECT connection_id, user_id, connected_at FROM connections "
            "WHERE user_id = ? AND connected_at > ? ORDER BY connected_at, connection_id",
            (user_id, self._oldest_live()),
        )
        return [_connection(row) for row in rows]


def _connection(row: tuple[Any, ...]) -> ConnectionRecord:
    return ConnectionRecord(str(row[0]), str(row[1]), parse_iso(str(row[2])))


class EmbeddedSettingsStore:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def get(self, user_id: str) -> UserSettings:
        row = self._db.query_one("SELECT settings FROM settings WHERE user_id = ?", (user_id,))
        return _settings(row[0] if row else None)

    def update(self, user_id: str, changes: dict[str, Any]) -> UserSettings:
        with self._db.write() as db:
            row = db.execute(
                "SELECT settings FROM settings WHERE user_id = ?", (user_id,)
            ).fetchone()
            current = _settings(row[0] if row else None).model_dump()
            try:
                merged = UserSettings.model_validate({**current, **changes})
            except ValidationError as exc:
                raise InvalidRequest(first_error(exc)) from exc
            db.execute(
                "INSERT INTO settings (user_id, settings, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, "
                "updated_at = excluded.updated_at",
                (user_id, merged.model_dump_json(), iso(self._clock())),
            )
        return merged


def _settings(text: str | None) -> UserSettings:
    if not text:
        return UserSettings()
    try:
        return UserSettings.model_validate_json(text)
    except ValidationError:
        return UserSettings()  # a field we no longer accept must not lock the user out


class EmbeddedCounterStore:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def increment(self, key: str, *, expires_at: datetime, amount: int = 1) -> int:
        with self._db.write() as db:
            row = db.execute(
                "INSERT INTO counters (key, count, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "count = CASE WHEN expires_at <= ? THEN excluded.count "
                "ELSE count + excluded.count END, expires_at = excluded.expires_at "
                "RETURNING count",
                (key, amount, epoch(expires_at), epoch(self._clock())),
            ).fetchone()
        return int(row[0])

    def value(self, key: str) -> int:
        row = self._db.query_one(
            "SELECT count FROM counters WHERE key = ? AND expires_at > ?",
            (key, epoch(self._clock())),
        )
        return int(row[0]) if row else 0

    def mark(self, key: str, *, expires_at: datetime, now: datetime | None = None) -> bool:
        with self._db.write() as db:
            row = db.execute(
                "INSERT INTO counters (key, count, expires_at) VALUES (?, 0, ?) "
                "ON CONFLICT (key) DO UPDATE SET count = 0, expires_at = excluded.expires_at "
                "WHERE counters.expires_at <= ? RETURNING 1",
                (key, epoch(expires_at), epoch(now or self._clock())),
            ).fetchone()
        return row is not None

    def is_marked(self, key: str, *, now: datetime | None = None) -> bool:
        row = self._db.query_one(
            "SELECT 1 FROM counters WHERE key = ? AND expires_at > ?",
            (key, epoch(now or self._clock())),
        )
        return row is not None


class EmbeddedTelegramStore:
    def __init__(self, db: Database, counters: CounterStore, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._counters = counters
        self._clock = clock

    # --- links -----------------------------------------------------------------------------
    def link(self, chat_id: int, user_id: str, username: str | None = None) -> TelegramLink:
        linked = utc(self._clock())
        with self._db.write() as db:
            db.execute(
                "DELETE FROM telegram_links WHERE user_id = ? AND chat_id != ?",
                (user_id, chat_id),
            )
            db.execute(
                "INSERT OR REPLACE INTO telegram_links (chat_id, user_id, username, linked_at) "
                "VALUES (?, ?, ?, ?)",
                (chat_id, user_id, username, iso(linked)),
            )
        return TelegramLink(chatId=chat_id, username=username, linkedAt=linked)

    def user_for_chat(self, chat_id: int) -> str | None:
        row = self._db.query_one("SELECT user_id FROM telegram_links WHERE chat_id = ?", (chat_id,))
        return str(row[0]) if row else None

    def link_of_user(self, user_id: str) -> TelegramLink | None:
        row = self._db.query_one(
            "SELECT chat_id, username, linked_at FROM telegram_links WHERE user_id = ? "
            "ORDER BY linked_at DESC LIMIT 1",
            (user_id,),
        )
        if row is None:
            return None
        return TelegramLink(chatId=int(row[0]), username=row[1], linkedAt=parse_iso(row[2]))

    def unlink_user(self, user_id: str) -> bool:
        with self._db.write() as db:
            removed = db.execute("DELETE FROM telegram_links WHERE user_id = ?", (user_id,))
            return removed.rowcount > 0

    # --- pairing codes ---------------------------------------------------------------------
    def create_pairing_code(self, user_id: str, *, now: datetime | None = None) -> PairingCode:
        expires = pairing.expires_at(utc(now or self._clock()))
        code = pairing.generate_code()
        with self._db.write() as db:
            # Only the newest code of a user works.
            db.execute("DELETE FROM pairing_codes WHERE user_id = ?", (user_id,))
            db.execute(
                "INSERT OR REPLACE INTO pairing_codes (code_hash, user_id, expires_at) "
                "VALUES (?, ?, ?)",
                (pairing.hash_code(code), user_id, epoch(expires)),
            )
        return PairingCode(code=code, expiresAt=expires)

    def redeem_pairing_code(
        self, chat_id: int, code: str, *, attempts_per_hour: int, now: datetime | None = None
    ) -> str:
        at = utc(now or self._clock())
        attempts = self._counters.increment(
            pairing.attempts_key(chat_id, at), expires_at=at + pairing.COUNTER_TTL
        )
        if attempts > attempts_per_hour:
            raise pairing.too_many_attempts(at)
        if not pairing.may_be_code(code):
            raise NotFound("unknown or expired pairing code")
        with self._db.write() as db:
            row = db.execute(
                "DELETE FROM pairing_codes WHERE code_hash = ? AND expires_at > ? "
                "RETURNING user_id",
                (pairing.hash_code(code), epoch(at)),
            ).fetchone()
        if row is None:
            raise NotFound("unknown or expired pairing code")
        return str(row[0])
