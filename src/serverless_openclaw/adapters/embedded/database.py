"""The one SQLite database of the local product (`<root>/state.db`), shared by processes and
threads.

Durability: WAL mode with `synchronous=FULL`, so a committed transaction has reached the disk
before `COMMIT` returns: an acknowledged write survives a kill -9 of every process and a power
cut. Concurrency: the local stack and each agent task process open the same file; every
thread gets its own connection (sqlite3 connections must not be shared), writers take the
write lock up front (`BEGIN IMMEDIATE`: a read that later upgrades can fail without waiting)
and keep transactions short, and everyone waits up to `busy_timeout` for the lock.

sqlite3 errors become `StorageUnavailable` here; stores raise their own rule errors
(`ConditionFailed`, `Fenced`, ...) from inside a transaction, which rolls it back.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from serverless_openclaw.adapters.embedded.schema import SCHEMA, SCHEMA_VERSION
from serverless_openclaw.core.errors import StorageUnavailable

BUSY_TIMEOUT_S: Final = 10.0
FILENAME: Final = "state.db"


@contextmanager
def converted(what: str) -> Iterator[None]:
    """sqlite3 errors -> `StorageUnavailable` (locked past the timeout, disk full, I/O)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"SQLite {what}: {exc}") from exc


def _open_transaction(conn: sqlite3.Connection) -> bool:
    """Still in the transaction (a failed statement may already have ended it)."""
    return conn.in_transaction


class Database:
    """Connections to one database file, one per thread (and per process after a fork)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[sqlite3.Connection] = []
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # --- connections -----------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        with converted("open"):
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,  # we BEGIN and COMMIT ourselves
                check_same_thread=False,  # used by one thread; `close()` may run elsewhere
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
        if str(mode).lower() != "wal":
            conn.close()
            raise StorageUnavailable(f"SQLite: {self.path} cannot use WAL (journal mode {mode})")
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection."""
        if self._closed:
            raise StorageUnavailable(f"SQLite: {self.path} is closed")
        owner = getattr(self._local, "owner", None)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or owner != os.getpid():
            conn = self._open()
            self._local.conn, self._local.owner = conn, os.getpid()
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this object opened (any thread's)."""
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    # --- transactions ----------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A read-modify-write transaction holding the write lock from its first statement;
        committed (durably) when the block ends, rolled back if it raises."""
        conn = self.connection()
        if conn.in_transaction:
            raise RuntimeError("nested SQLite transaction")
        with converted("begin"):
            conn.execute("BEGIN IMMEDIATE")
        try:
            with converted("write"):
                yield conn
        except BaseException:
            if _open_transaction(conn):
                conn.execute("ROLLBACK")
            raise
        with converted("commit"):
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several SELECTs that see one snapshot."""
        conn = self.connection()
        if conn.in_transaction:
            raise RuntimeError("nested SQLite transaction")
        with converted("begin"):
            conn.execute("BEGIN")
        try:
            with converted("read"):
                yield conn
        finally:
            if _open_transaction(conn):
                conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One SELECT, outside any transaction (it sees the last commit)."""
        with converted("query"):
            return list(self.connection().execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # --- schema ----------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageUnavailable(
                    f"SQLite: {self.path} was written by a newer version (schema {version})"
                )
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file ("ok" when intact)."""
        row = self.query_one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"
