"""The small stores in dicts: connections, settings, counters, Telegram links and pairing
codes. Expiry is checked against the injected clock on every read."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.adapters.store_rules import (
    epoch,
    first_error,
    utc,
)
from serverless_openclaw.contracts.records import PairingCode, TelegramLink, UserSettings
from serverless_openclaw.core import pairing
from serverless_openclaw.core.errors import InvalidRequest, NotFound
from serverless_openclaw.ports.stores import CONNECTION_TTL, ConnectionRecord, CounterStore


class MemoryConnectionStore:
    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rows: dict[str, ConnectionRecord] = {}

    def _live(self, record: ConnectionRecord) -> bool:
        return utc(self._clock()) < record.connected_at + CONNECTION_TTL

    def put(self, connection_id: str, user_id: str, connected_at: datetime) -> None:
        with self._lock:
            self._rows[connection_id] = ConnectionRecord(connection_id, user_id, utc(connected_at))

    def get(self, connection_id: str) -> ConnectionRecord | None:
        with self._lock:
            record = self._rows.get(connection_id)
        return record if record is not None and self._live(record) else None

    def delete(self, connection_id: str) -> None:
        with self._lock:
            self._rows.pop(connection_id, None)

    def for_user(self, user_id: str) -> list[ConnectionRecord]:
        with self._lock:
            records = [r for r in self._rows.values() if r.user_id == user_id]
        live = [r for r in records if self._live(r)]
        return sorted(live, key=lambda r: (r.connected_at, r.connection_id))


class MemorySettingsStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, UserSettings] = {}

    def get(self, user_id: str) -> UserSettings:
        with self._lock:
            return self._rows.get(user_id) or UserSettings()

    def update(self, user_id: str, changes: dict[str, Any]) -> UserSettings:
        with self._lock:
            current = (self._rows.get(user_id) or UserSettings()).model_dump()
            try:
                merged = UserSettings.model_validate({**current, **changes})
            except ValidationError as exc:
                raise InvalidRequest(first_error(exc)) from exc
            self._rows[user_id] = merged
            return merged


@dataclass
class _Counter:
    count: int
    expires_at: int


class MemoryCounterStore:
    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rows: dict[str, _Counter] = {}

    def _current(self, key: str, now: datetime | None = None) -> _Counter | None:
        row = self._rows.get(key)
        if row is None or row.expires_at <= epoch(now or self._clock()):
            return None
        return row

    def increment(self, key: str, *, expires_at: datetime, amount: int = 1) -> int:
        with self._lock:
            row = self._current(key)
            total = (row.count if row else 0) + amount
            self._rows[key] = _Counter(total, epoch(expires_at))
            return total

    def value(self, key: str) -> int:
        with self._lock:
            row = self._current(key)
            return row.count if row else 0

    def mark(self, key: str, *, expires_at: datetime, now: datetime | None = None) -> bool:
        with self._lock:
            if self._current(key, now) is not None:
                return False
            self._rows[key] = _Counter(0, epoch(expires_at))
            return True

    def is_marked(self, key: str, *, now: datetime | None = None) -> bool:
        with self._lock:
            return self._current(key, now) is not None


@dataclass(frozen=True)
class _Link:
    user_id: str
    username: str | None
    linked_at: datetime


class MemoryTelegramStore:
    def __init__(self, counters: CounterStore, *, clock: Clock = utc_now) -> None:
        self._counters = counters
        self._clock = clock
        self._lock = threading.Lock()
        self._links: dict[int, _Link] = {}
        self._codes: dict[str, tuple[str, int]] = {}
        """code hash -> (user id, expiry epoch)."""

    # --- links -----------------------------------------------------------------------------
    def link(self, chat_id: int, user_id: str, username: str | None = None) -> TelegramLink:
        linked = utc(self._clock())
        with self._lock:
            for chat, old in list(self._links.items()):
                if old.user_id == user_id and chat != chat_id:
                    del self._links[chat]
            self._links[chat_id] = _Link(user_id, username, linked)
        return TelegramLink(chatId=chat_id, username=username, linkedAt=linked)

    def user_for_chat(self, chat_id: int) -> str | None:
        with self._lock:
            link = self._links.get(chat_id)
        return link.user_id if link else None

    def link_of_user(self, user_id: str) -> TelegramLink | None:
        with self._lock:
            for chat, link in self._links.items():
                if link.user_id == user_id:
                    return TelegramLink(
                        chatId=chat, username=link.username, linkedAt=link.linked_at
                    )
        return None

    def unlink_user(self, user_id: str) -> bool:
        with self._lock:
            chats = [chat for chat, link in self._links.items() if link.user_id == user_id]
            for chat in chats:
                del self._links[chat]
        return bool(chats)

    # --- pairing codes ---------------------------------------------------------------------
    def create_pairing_code(self, user_id: str, *, now: datetime | None = None) -> PairingCode:
        expires = pairing.expires_at(utc(now or self._clock()))
        code = pairing.generate_code()
        with self._lock:
            for hashed, (owner, _) in list(self._codes.items()):
                if owner == user_id:  # only the newest code of a user works
                    del self._codes[hashed]
            self._codes[pairing.hash_code(code)] = (user_id, epoch(expires))
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
        with self._lock:
            entry = self._codes.get(pairing.hash_code(code))
            if entry is None or entry[1] <= epoch(at):
                raise NotFound("unknown or expired pairing code")
            del self._codes[pairing.hash_code(code)]
        return entry[0]
