"""The tables of the embedded database, one per store (the DynamoDB tables' counterparts).

Times that are compared or sorted are fixed-width UTC ISO 8601 text (they sort as text in the
order of time); expiries are whole epoch seconds as in DynamoDB (so expiry compares at the same
granularity in every family); inbox visibility is epoch seconds with fractions.
`SCHEMA_VERSION` goes in `PRAGMA user_version`; statements are idempotent.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1

SCHEMA: Final[tuple[str, ...]] = (
    # --- stores ---
    """CREATE TABLE IF NOT EXISTS connections (
        connection_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        connected_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS connections_by_user ON connections (user_id, connected_at)",
    """CREATE TABLE IF NOT EXISTS task_state (
        user_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        launch_id TEXT,
        row TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS conversations (
        user_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        title TEXT,
        created_at TEXT,
        updated_at TEXT,
        deleted_at TEXT,
        PRIMARY KEY (user_id, conversation_id)
    ) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS conversations_by_recency
        ON conversations (user_id, updated_at, conversation_id) WHERE updated_at IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS messages (
        user_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        order_key TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (user_id, conversation_id, message_id)
    ) WITHOUT ROWID""",
    """CREATE UNIQUE INDEX IF NOT EXISTS messages_in_order
        ON messages (user_id, conversation_id, order_key)""",
    """CREATE TABLE IF NOT EXISTS settings (
        user_id TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS counters (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS telegram_links (
        chat_id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        username TEXT,
        linked_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS telegram_links_by_user ON telegram_links (user_id)",
    """CREATE TABLE IF NOT EXISTS pairing_codes (
        code_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS idempotency (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        expiration INTEGER,
        in_progress_expiration INTEGER,
        data TEXT NOT NULL DEFAULT '',
        validation TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID""",
    # --- inbox ---
    """CREATE TABLE IF NOT EXISTS inboxes (
        user_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS inbox_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        visible_at REAL NOT NULL DEFAULT 0,
        receive_count INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE INDEX IF NOT EXISTS inbox_messages_by_group
        ON inbox_messages (user_id, group_id, seq)""",
    """CREATE TABLE IF NOT EXISTS inbox_dedupe (
        user_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        until REAL NOT NULL,
        PRIMARY KEY (user_id, job_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS dead_letters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        visible_at REAL NOT NULL DEFAULT 0,
        handle TEXT
    )""",
)
