"""The subset of Telegram's Update we act on, and what each update means to us.

Models ignore unknown fields: Telegram adds fields often and an update we cannot fully read
must still be acknowledged (otherwise Telegram redelivers it for hours). `classify` turns an
update into one small tagged value so that the webhook handler is a `match` over intents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class User(_Model):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


ChatType = Literal["private", "group", "supergroup", "channel"]


class Chat(_Model):
    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None


class MessageEntity(_Model):
    type: str
    offset: int
    length: int


MEDIA_FIELDS: Final = (
    "sticker",
    "photo",
    "animation",
    "video",
    "video_note",
    "voice",
    "audio",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)
"""Message fields that carry something other than text; their content is never read."""


class Message(_Model):
    message_id: int
    date: int = 0
    chat: Chat
    from_: User | None = Field(default=None, alias="from")
    text: str | None = None
    entities: tuple[MessageEntity, ...] = ()
    caption: str | None = None
    edit_date: int | None = None
    # Presence markers only: we never read media, we only need to say that we cannot.
    sticker: dict[str, Any] | None = None
    photo: list[Any] | None = None
    animation: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    video_note: dict[str, Any] | None = None
    voice: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    venue: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    dice: dict[str, Any] | None = None
    game: dict[str, Any] | None = None
    story: dict[str, Any] | None = None

    def media_kind(self) -> str | None:
        for name in MEDIA_FIELDS:
            if getattr(self, name) is not None:
                return name
        return None


class Update(_Model):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    channel_post: Message | None = None
    edited_channel_post: Message | None = None


class WebhookInfo(_Model):
    url: str = ""
    has_custom_certificate: bool = False
    pending_update_count: int = 0
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    max_connections: int | None = None
    allowed_updates: tuple[str, ...] | None = None


class BotCommand(_Model):
    command: str
    description: str


# --- classification ------------------------------------------------------------------------
CommandName = Literal["start", "help", "pair", "status", "new", "stop"]
COMMANDS: Final[tuple[CommandName, ...]] = ("start", "help", "pair", "status", "new", "stop")
_COMMAND_BY_NAME: Final[dict[str, CommandName]] = {name: name for name in COMMANDS}

_COMMAND_RE: Final = re.compile(
    r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?$", re.S
)


@dataclass(frozen=True)
class PrivateText:
    """A person wrote to the bot in a private chat: a message for their agent (if paired)."""

    update_id: int
    chat_id: int
    message_id: int
    user: User | None
    text: str


@dataclass(frozen=True)
class Command:
    """One of our commands in a private chat. `args` is the rest of the line, stripped."""

    update_id: int
    chat_id: int
    message_id: int
    user: User | None
    name: CommandName
    args: str


@dataclass(frozen=True)
class GroupMessage:
    """Anything in a group: refused (an agent belongs to one person). `is_command` tells
    whether it was addressed to us, so we answer commands and stay silent otherwise."""

    update_id: int
    chat_id: int
    is_command: bool


@dataclass(frozen=True)
class EditedMessage:
    update_id: int
    chat_id: int


@dataclass(frozen=True)
class UnsupportedMedia:
    update_id: int
    chat_id: int
    kind: str


@dataclass(frozen=True)
class Ignored:
    """Nothing to do or say (channel posts, bots, service messages, update types we do not
    subscribe to)."""

    update_id: int
    reason: str


Intent = PrivateText | Command | GroupMessage | EditedMessage | UnsupportedMedia | Ignored


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """`/pair@MyBot  AB12` -> ("pair", "MyBot", "AB12"); None when the text is no command."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), match.group(2), (match.group(3) or "").strip()


def classify(update: Update, *, bot_username: str | None = None) -> Intent:
    """What this update asks of us.

    A command addressed to another bot (`/status@OtherBot`) is not ours. Unknown commands in
    a private chat are ordinary text: OpenClaw has slash commands of its own.
    """
    uid = update.update_id
    if update.edited_message is not None:
        edited = update.edited_message
        if edited.chat.type != "private":
            return Ignored(uid, "edit outside a private chat")
        return EditedMessage(uid, edited.chat.id)
    message = update.message
    if message is None:
        return Ignored(uid, "no message")
    if message.from_ is not None and message.from_.is_bot:
        return Ignored(uid, "sent by a bot")
    chat = message.chat
    text = message.text
    command = parse_command(text) if text is not None else None
    addressee = command[1] if command is not None else None
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return Ignored(uid, "command for another bot")
    if chat.type == "channel":
        return Ignored(uid, "channel")
    if chat.type != "private":
        return GroupMessage(uid, chat.id, is_command=command is not None)
    if text is None:
        kind = message.media_kind()
        if kind is None:
            return Ignored(uid, "service message")
        return UnsupportedMedia(uid, chat.id, kind)
    name = _COMMAND_BY_NAME.get(command[0]) if command is not None else None
    if command is not None and name is not None:
        return Command(uid, chat.id, message.message_id, message.from_, name, command[2])
    if not text.strip():
        return Ignored(uid, "empty text")
    return PrivateText(uid, chat.id, message.message_id, message.from_, text)
