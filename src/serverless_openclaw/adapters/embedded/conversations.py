"""Conversations and their messages in SQLite, with the rules of the DynamoDB store: every put
is one transaction that checks the fence (the task-state row's launch), the duplicate, the
tombstone and the question a reply answers before it writes anything."""

from __future__ import annotations

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.store_rules import (
    Clock,
    decode_cursor,
    encode_cursor,
    iso,
    order_key,
    page_size,
    parse_iso,
    reply_order_key,
    title_of,
    utc,
    utc_now,
)
from serverless_openclaw.contracts.records import Conversation, Message, Page
from serverless_openclaw.core.errors import ConversationDeleted, Fenced


class EmbeddedConversationStore:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    # --- writes ----------------------------------------------------------------------------
    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        created = utc(message.createdAt)
        stamp = iso(created)
        body = message.model_copy(update={"createdAt": created}).model_dump_json()
        conversation = (user_id, message.conversationId)
        with self._db.write() as db:
            if fence is not None:
                row = db.execute(
                    "SELECT launch_id FROM task_state WHERE user_id = ?", (user_id,)
                ).fetchone()
                if row is None or row[0] != fence:
                    raise Fenced(f"launch {fence[:8]} is no longer current")
            exists = db.execute(
                "SELECT 1 FROM messages WHERE user_id = ? AND conversation_id = ? "
                "AND message_id = ?",
                (*conversation, message.id),
            ).fetchone()
            if exists:
                return False
            tomb = db.execute(
                "SELECT deleted_at FROM conversations WHERE user_id = ? AND conversation_id = ?",
                conversation,
            ).fetchone()
            deleted = tomb[0] if tomb else None
            if deleted is not None and stamp <= deleted:
                raise ConversationDeleted("the conversation was deleted after this message")
            key = order_key(created, message.id)
            if message.inReplyTo is not None:
                question = db.execute(
                    "SELECT order_key FROM messages WHERE user_id = ? AND conversation_id = ? "
                    "AND message_id = ?",
                    (*conversation, message.inReplyTo),
                ).fetchone()
                if question is not None:
                    key = reply_order_key(question[0], created, message.id)
                elif deleted is not None:
                    raise ConversationDeleted("the question this answers was deleted")
            db.execute(
                "INSERT INTO messages (user_id, conversation_id, message_id, order_key, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (*conversation, message.id, key, body),
            )
            db.execute(
                "INSERT INTO conversations (user_id, conversation_id, title, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, conversation_id) "
                "DO UPDATE SET title = coalesce(title, excluded.title), "
                "created_at = coalesce(created_at, excluded.created_at), "
                "updated_at = max(coalesce(updated_at, ''), excluded.updated_at)",
                (*conversation, title_of(message.text), stamp, stamp),
            )
        return True

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        with self._db.write() as db:
            row = db.execute(
                "SELECT updated_at FROM conversations WHERE user_id = ? AND conversation_id = ?",
                (user_id, conversation_id),
            ).fetchone()
            if row is None or row[0] is None:
                return False
            # Every stored message is covered, even one stamped ahead of this clock.
            deleted_at = max(iso(self._clock()), row[0])
            db.execute(
                "DELETE FROM messages WHERE user_id = ? AND conversation_id = ?",
                (user_id, conversation_id),
            )
            db.execute(
                "UPDATE conversations SET deleted_at = ?, title = NULL, created_at = NULL, "
                "updated_at = NULL WHERE user_id = ? AND conversation_id = ?",
                (deleted_at, user_id, conversation_id),
            )
        return True

    # --- reads -----------------------------------------------------------------------------
    def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None:
        row = self._db.query_one(
            "SELECT conversation_id, title, created_at, updated_at FROM conversations "
            "WHERE user_id = ? AND conversation_id = ? AND updated_at IS NOT NULL",
            (user_id, conversation_id),
        )
        return _conversation(row) if row else None

    def has_message(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        row = self._db.query_one(
            "SELECT 1 FROM messages WHERE user_id = ? AND conversation_id = ? AND message_id = ?",
            (user_id, conversation_id, message_id),
        )
        return row is not None

    def list_conversations(
        self, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """Most recently updated first."""
        owner = {"userId": user_id}
        start = decode_cursor(cursor, owner=owner, size=2)
        size = page_size(limit)
        sql = (
            "SELECT conversation_id, title, created_at, updated_at FROM conversations "
            "WHERE user_id = ? AND updated_at IS NOT NULL"
        )
        params: list[object] = [user_id]
        if start is not None:
            sql += " AND (updated_at, conversation_id) < (?, ?)"
            params += start
        sql += " ORDER BY updated_at DESC, conversation_id DESC LIMIT ?"
        rows = self._db.query(sql, [*params, size + 1])
        page = rows[:size]
        more = len(rows) > size
        next_cursor = encode_cursor(owner, [page[-1][3], page[-1][0]]) if more else None
        return Page[Conversation](items=[_conversation(r) for r in page], nextCursor=next_cursor)

    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first, replies directly under their question."""
        owner = {"userId": user_id, "conversationId": conversation_id}
        start = decode_cursor(cursor, owner=owner, size=1)
        size = page_size(limit)
        rows = self._db.query(
            "SELECT order_key, body FROM messages WHERE user_id = ? AND conversation_id = ? "
            "AND order_key > ? ORDER BY order_key LIMIT ?",
            (user_id, conversation_id, start[0] if start else "", size + 1),
        )
        page = rows[:size]
        more = len(rows) > size
        next_cursor = encode_cursor(owner, [page[-1][0]]) if more else None
        items = [Message.model_validate_json(body) for _, body in page]
        return Page[Message](items=items, nextCursor=next_cursor)


def _conversation(row: tuple[object, ...]) -> Conversation:
    conversation_id, title, created, updated = row
    return Conversation(
        id=str(conversation_id),
        title=str(title),
        createdAt=parse_iso(str(created)),
        updatedAt=parse_iso(str(updated)),
    )
