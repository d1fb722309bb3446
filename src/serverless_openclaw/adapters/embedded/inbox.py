"""The per-user FIFO inbox in SQLite, with SQS's semantics (the contract suite holds it to the
SQS adapter): FIFO per message group, one job of a group in flight at a time, deduplication
by job id for 5 minutes, visibility timeouts, receive counts, and dead-lettering after
`MAX_RECEIVES` deliveries into one dead-letter table shared by every user.

The producer (the local stack's handlers) and the consumer (an agent task process) are
different processes on one database. A long poll looks for a ready job with a cheap indexed
read every `poll_interval_s` (50 ms) and takes it in a short `BEGIN IMMEDIATE` transaction;
a send in the same process wakes it at once. Jobs are claimed inside a transaction, so two
consumers never get the same delivery.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from typing import Final

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.store_rules import (
    Clock,
    check_user_id,
    iso,
    parse_job,
    utc,
    utc_now,
)
from serverless_openclaw.adapters.user_inbox import UserInboxConsumer
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, message_group
from serverless_openclaw.core.errors import NotFound, StorageUnavailable
from serverless_openclaw.ports.inbox import (
    DEDUPE_WINDOW_S,
    MAX_RECEIVES,
    MAX_WAIT_S,
    VISIBILITY_TIMEOUT_S,
    DeadLetter,
    ReceivedJob,
)

URL_SCHEME: Final = "embedded://inbox/"
DEAD_LETTER_VISIBILITY_S: Final = VISIBILITY_TIMEOUT_S
POLL_INTERVAL_S: Final = 0.05

_HEAD: Final = (
    "seq = (SELECT min(h.seq) FROM inbox_messages h "
    "WHERE h.user_id = inbox_messages.user_id AND h.group_id = inbox_messages.group_id)"
)
"""The oldest job of its group: the only one a group may hand out."""


class EmbeddedInbox:
    """The producer side and the operator's view; `consumer(url)` is the agent's side."""

    def __init__(
        self, db: Database, *, clock: Clock = utc_now, poll_interval_s: float = POLL_INTERVAL_S
    ) -> None:
        self._db = db
        self._clock = clock
        self._poll_s = poll_interval_s
        self._sent = threading.Condition()

    def _now(self) -> float:
        return utc(self._clock()).timestamp()

    # --- producer --------------------------------------------------------------------------
    def queue_url(self, user_id: str, *, create: bool = True) -> str:
        check_user_id(user_id)
        if create:
            with self._db.write() as db:
                _ensure_inbox(db, user_id, self._clock)
        elif self._db.query_one("SELECT 1 FROM inboxes WHERE user_id = ?", (user_id,)) is None:
            raise NotFound(f"no inbox for {user_id}")
        return URL_SCHEME + user_id

    def send(self, job: ChatJob | ControlJob) -> str:
        check_user_id(job.userId)
        now = self._now()
        with self._db.write() as db:
            _ensure_inbox(db, job.userId, self._clock)
            db.execute(
                "DELETE FROM inbox_dedupe WHERE user_id = ? AND until <= ?", (job.userId, now)
            )
            seen = db.execute(
                "SELECT message_id FROM inbox_dedupe WHERE user_id = ? AND job_id = ?",
                (job.userId, job.jobId),
            ).fetchone()
            if seen is not None:
                return str(seen[0])
            message_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO inbox_messages (user_id, group_id, message_id, body) "
                "VALUES (?, ?, ?, ?)",
                (job.userId, message_group(job), message_id, job.model_dump_json()),
            )
            db.execute(
                "INSERT INTO inbox_dedupe (user_id, job_id, message_id, until) VALUES (?, ?, ?, ?)",
                (job.userId, job.jobId, message_id, now + DEDUPE_WINDOW_S),
            )
        with self._sent:
            self._sent.notify_all()
        return message_id

    def depth(self, user_id: str) -> int:
        row = self._db.query_one(
            "SELECT count(*) FROM inbox_messages WHERE user_id = ?", (user_id,)
        )
        return int(row[0]) if row else 0

    # --- dead letters ----------------------------------------------------------------------
    def dead_letters(self, *, max_jobs: int = 10) -> list[DeadLetter]:
        now = self._now()
        taken: list[DeadLetter] = []
        with self._db.write() as db:
            rows = db.execute(
                "SELECT seq, message_id, body FROM dead_letters WHERE visible_at <= ? "
                "ORDER BY seq LIMIT ?",
                (now, max(1, min(max_jobs, 10))),
            ).fetchall()
            for seq, message_id, body in rows:
                handle = f"dead:{message_id}:{uuid.uuid4().hex}"
                db.execute(
                    "UPDATE dead_letters SET visible_at = ?, handle = ? WHERE seq = ?",
                    (now + DEAD_LETTER_VISIBILITY_S, handle, seq),
                )
                taken.append(
                    DeadLetter(
                        job=parse_job(body),
                        body=body,
                        receipt_handle=handle,
                        message_id=message_id,
                    )
                )
        return taken

    def drop_dead_letter(self, receipt_handle: str) -> None:
        with self._db.write() as db:
            db.execute("DELETE FROM dead_letters WHERE handle = ?", (receipt_handle,))

    # --- teardown --------------------------------------------------------------------------
    def delete_inbox(self, user_id: str) -> None:
        with self._db.write() as db:
            for table in ("inboxes", "inbox_messages", "inbox_dedupe", "dead_letters"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))  # noqa: S608

    def inbox_users(self) -> list[str]:
        return [str(row[0]) for row in self._db.query("SELECT user_id FROM inboxes ORDER BY 1")]

    # --- consumer side ---------------------------------------------------------------------
    def consumer(self, queue_url: str) -> EmbeddedInboxConsumer:
        return EmbeddedInboxConsumer(self, queue_url)

    def _ready(self, user_id: str, now: float) -> bool:
        """A cheap look (no write lock) for a job that could be handed out."""
        row = self._db.query_one(
            f"SELECT 1 FROM inbox_messages WHERE user_id = ? AND visible_at <= ? AND {_HEAD} "  # noqa: S608
            "LIMIT 1",
            (user_id, now),
        )
        return row is not None

    def _claim(self, user_id: str, max_messages: int, visibility_s: float) -> list[ReceivedJob]:
        """Hand out the visible head of each group, oldest first, one per group."""
        now = self._now()
        received: list[ReceivedJob] = []
        with self._db.write() as db:
            if db.execute("SELECT 1 FROM inboxes WHERE user_id = ?", (user_id,)).fetchone() is None:
                raise NotFound(f"no inbox for {user_id}")
            served: list[str] = []
            while len(received) < max_messages:
                head = _first_ready(db, user_id, served, now)
                if head is None:
                    break
                seq, group, message_id, body, count = head
                if count >= MAX_RECEIVES:
                    db.execute("DELETE FROM inbox_messages WHERE seq = ?", (seq,))
                    db.execute(
                        "INSERT INTO dead_letters (user_id, message_id, body) VALUES (?, ?, ?)",
                        (user_id, message_id, body),
                    )
                    continue
                db.execute(
                    "UPDATE inbox_messages SET receive_count = ?, visible_at = ? WHERE seq = ?",
                    (count + 1, now + visibility_s, seq),
                )
                served.append(group)
                received.append(
                    ReceivedJob(
                        job=parse_job(body),
                        body=body,
                        receipt_handle=f"{message_id}:{count + 1}",
                        message_id=message_id,
                        receive_count=count + 1,
                    )
                )
        return received

    def receive_for(
        self, user_id: str, max_messages: int, wait_seconds: float, visibility_s: float
    ) -> list[ReceivedJob]:
        deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT_S))
        count = max(1, min(max_messages, 10))
        if self._db.query_one("SELECT 1 FROM inboxes WHERE user_id = ?", (user_id,)) is None:
            raise NotFound(f"no inbox for {user_id}")
        while True:
            if self._ready(user_id, self._now()):
                received = self._claim(user_id, count, visibility_s)
                if received:
                    return received
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with self._sent:
                self._sent.wait(min(remaining, self._poll_s))

    def delete_for(self, user_id: str, receipt_handle: str) -> None:
        """Any receipt handle the job had deletes it (as SQS and moto do); a job already
        deleted is fine."""
        with self._db.write() as db:
            db.execute(
                "DELETE FROM inbox_messages WHERE user_id = ? AND message_id = ?",
                (user_id, _message_id(receipt_handle)),
            )

    def change_visibility_for(self, user_id: str, receipt_handle: str, seconds: int) -> None:
        with self._db.write() as db:
            changed = db.execute(
                "UPDATE inbox_messages SET visible_at = ? WHERE user_id = ? AND message_id = ?",
                (self._now() + max(0, seconds), user_id, _message_id(receipt_handle)),
            )
            if changed.rowcount == 0:
                raise StorageUnavailable("inbox: the receipt handle is not valid (job gone)")
        if seconds <= 0:
            with self._sent:
                self._sent.notify_all()


def _ensure_inbox(db: sqlite3.Connection, user_id: str, clock: Clock) -> None:
    db.execute(
        "INSERT INTO inboxes (user_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (user_id, iso(clock())),
    )


def _first_ready(
    db: sqlite3.Connection, user_id: str, served: list[str], now: float
) -> tuple[int, str, str, str, int] | None:
    """The oldest visible group head, skipping groups already served in this call."""
    skip = f" AND group_id NOT IN ({', '.join('?' * len(served))})" if served else ""
    row = db.execute(
        "SELECT seq, group_id, message_id, body, receive_count FROM inbox_messages "  # noqa: S608
        f"WHERE user_id = ? AND visible_at <= ? AND {_HEAD}{skip} ORDER BY seq LIMIT 1",
        (user_id, now, *served),
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4])


def _message_id(receipt_handle: str) -> str:
    return receipt_handle.rsplit(":", 1)[0]


class EmbeddedInboxConsumer(UserInboxConsumer):
    """The agent's side of one user's inbox (`embedded://inbox/<user id>`)."""

    def __init__(self, inbox: EmbeddedInbox, queue_url: str) -> None:
        super().__init__(inbox, queue_url, URL_SCHEME)
