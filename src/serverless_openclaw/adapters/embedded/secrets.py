"""Secrets the local stack keeps in its database (the bot token, the webhook secret)."""

from __future__ import annotations

from pydantic import SecretStr

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.core.errors import NotFound


class EmbeddedSecrets:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> SecretStr:
        row = self._db.query_one("SELECT value FROM secrets WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no secret {name}")
        return SecretStr(str(row[0]))

    def put(self, name: str, value: str) -> None:
        with self._db.write() as db:
            db.execute(
                "INSERT INTO secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def delete(self, name: str) -> None:
        with self._db.write() as db:
            db.execute("DELETE FROM secrets WHERE name = ?", (name,))
