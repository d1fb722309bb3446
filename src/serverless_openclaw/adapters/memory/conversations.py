"""Conversations and their messages in dicts, with the same rules as DynamoDB's store:
idempotent puts, replies listed under their question, final deletion (tombstones) and fenced
writes (decision D12)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

from serverless_openclaw.adapters.memory.clock import Clock, utc_now
from serverless_openclaw.adapters.memory.task_state import MemoryTaskStateRows
from serverless_openclaw.adapters.store_rules import (
    decode_cursor,
    encode_cursor,
    iso,
    order_key,
    page_size,
    reply_order_key,
    title_of,
    utc,
)
from serverless_openclaw.contracts.records import Conversation, Message, Page
from serverless_openclaw.core.errors import ConversationDeleted, Fenced


@dataclass
class _Conversation:
    """A live conversation has `updated_at`; a deleted one keeps only `deleted_at`."""

    title: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    keys: list[str] = field(default_factory=list)
    """Order keys of its messages, sorted."""
    messages: dict[str, tuple[str, Message]] = field(default_factory=dict)
    """message id -> (order key, message)."""
    by_key: dict[str, Message] = field(default_factory=dict)

    def view(self, conversation_id: str) -> Conversation | None:
        if self.updated_at is None or self.created_at is None or self.title is None:
            return None
        return Conversation(
            id=conversation_id,
            title=self.title,
            createdAt=self.created_at,
            updatedAt=self.updated_at,
        )


class MemoryConversationStore:
    def __init__(self, rows: MemoryTaskStateRows, *, clock: Clock = utc_now) -> None:
        self._rows = rows
        self._lock = rows.lock
        self._clock = clock
        self._conversations: dict[tuple[str, str], _Conversation] = {}

    # --- writes ----------------------------------------------------------------------------
    def put_message(self, user_id: str, message: Message, *, fence: str | None = None) -> bool:
        created = utc(message.createdAt)
        stored = message.model_copy(update={"createdAt": created})
        with self._lock:
            if fence is not None and self._rows.launch_of(user_id) != fence:
                raise Fenced(f"launch {fence[:8]} is no longer current")
            conversation = self._conversations.setdefault(
                (user_id, message.conversationId), _Conversation()
            )
            if message.id in conversation.messages:
                return False
            deleted = conversation.deleted_at
            if deleted is not None and created <= deleted:
                raise ConversationDeleted("the conversation was deleted after this message")
            key = order_key(created, message.id)
            if message.inReplyTo is not None:
                question = conversation.messages.get(message.inReplyTo)
                if question is not None:
                    key = reply_order_key(question[0], created, message.id)
                elif deleted is not None:
                    raise ConversationDeleted("the question this answers was deleted")
            conversation.messages[message.id] = (key, stored)
            conversation.by_key[key] = stored
            bisect.insort(conversation.keys, key)
            if conversation.updated_at is None:
                conversation.title = title_of(message.text)
                conversation.created_at = created
                conversation.updated_at = created
            elif created > conversation.updated_at:
                conversation.updated_at = created
            return True

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        with self._lock:
            conversation = self._conversations.get((user_id, conversation_id))
            if conversation is None or conversation.updated_at is None:
                return False
            # Every stored message is covered, even one stamped ahead of this clock.
            deleted_at = max(utc(self._clock()), conversation.updated_at)
            self._conversations[(user_id, conversation_id)] = _Conversation(deleted_at=deleted_at)
            return True

    # --- reads -----------------------------------------------------------------------------
    def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None:
        with self._lock:
            conversation = self._conversations.get((user_id, conversation_id))
            return conversation.view(conversation_id) if conversation else None

    def has_message(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        with self._lock:
            conversation = self._conversations.get((user_id, conversation_id))
            return conversation is not None and message_id in conversation.messages

    def list_conversations(
        self, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """Most recently updated first."""
        start = decode_cursor(cursor, owner={"userId": user_id}, size=2)
        with self._lock:
            views = [
                view
                for (owner, conversation_id), conversation in self._conversations.items()
                if owner == user_id and (view := conversation.view(conversation_id)) is not None
            ]
        positions = sorted(
            (((iso(view.updatedAt), view.id), view) for view in views),
            key=lambda pair: pair[0],
            reverse=True,
        )
        if start is not None:
            after = (start[0], start[1])
            positions = [pair for pair in positions if pair[0] < after]
        size = page_size(limit)
        page = positions[:size]
        more = len(positions) > size
        next_cursor = encode_cursor({"userId": user_id}, page[-1][0]) if more else None
        return Page[Conversation](items=[view for _, view in page], nextCursor=next_cursor)

    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first, replies directly under their question."""
        owner = {"userId": user_id, "conversationId": conversation_id}
        start = decode_cursor(cursor, owner=owner, size=1)
        size = page_size(limit)
        with self._lock:
            conversation = self._conversations.get((user_id, conversation_id))
            if conversation is None:
                return Page[Message](items=[])
            first = bisect.bisect_right(conversation.keys, start[0]) if start else 0
            keys = conversation.keys[first : first + size + 1]
            items = [conversation.by_key[key] for key in keys[:size]]
        more = len(keys) > size
        next_cursor = encode_cursor(owner, [keys[size - 1]]) if more else None
        return Page[Message](items=items, nextCursor=next_cursor)
