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
"""Message fields that carry something other than text."""


class Message(_Model):
    message_id: int
    date: int = 0
    chat: Chat
    from_: User | None = Field(default=None, alias="from")
    text: str | None = None
    entities: tuple[MessageEntity, ...] = ()
    caption: str | None = None
    edit_date: int | None = None
    # Photos, documents, voice notes and audio are read by `received_file`; the others
    # are presence markers (we only say that we cannot take them).
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


class File(_Model):
    """`getFile`'s answer: where the bytes can be downloaded (for at least an hour)."""

    file_id: str
    file_unique_id: str = ""
    file_size: int | None = None
    file_path: str | None = None


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


ReceivedKind = Literal["photo", "document", "voice", "audio"]
RECEIVED_KINDS: Final[tuple[ReceivedKind, ...]] = ("photo", "document", "voice", "audio")
"""Media we fetch and pass on to the agent (videos, stickers and the rest are refused)."""


@dataclass(frozen=True)
class ReceivedFile:
    """One file of a message, as Telegram describes it (the bytes are fetched with
    `getFile`). `mime_type` and `file_name` are what the sender's app said, if anything."""

    kind: ReceivedKind
    file_id: str
    file_size: int | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: int | None = None


@dataclass(frozen=True)
class PrivateMedia:
    """A photo, document, voice note or audio file in a private chat (with its caption, if
    any): a message for the agent once the file is fetched."""

    update_id: int
    chat_id: int
    message_id: int
    user: User | None
    file: ReceivedFile
    caption: str = ""


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


Intent = (
    PrivateText | PrivateMedia | Command | GroupMessage | EditedMessage | UnsupportedMedia | Ignored
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def received_file(message: Message, *, max_photo_bytes: int | None = None) -> ReceivedFile | None:
    """The file of a photo/document/voice/audio message (None when it carries none we take,
    or Telegram's description lacks a file id). A photo comes in several sizes, smallest
    first: the largest one within `max_photo_bytes` (when its size is known) is taken."""
    if message.photo:
        sizes = [
            p for p in message.photo if isinstance(p, dict) and _text_or_none(p.get("file_id"))
        ]
        fitting = [
            p
            for p in sizes
            if max_photo_bytes is None or (_int(p.get("file_size")) or 0) <= max_photo_bytes
        ]
        if not sizes:
            return None
        candidates = fitting or sizes[:1]
        # Largest area; on a tie the later one (Telegram lists sizes smallest first).
        best = max(
            enumerate(candidates),
            key=lambda n: ((_int(n[1].get("width")) or 0) * (_int(n[1].get("height")) or 0), n[0]),
        )[1]
        return ReceivedFile(
            kind="photo",
            file_id=str(best["file_id"]),
            file_size=_int(best.get("file_size")),
            mime_type="image/jpeg",  # Telegram re-encodes photos as JPEG
            width=_int(best.get("width")),
            height=_int(best.get("height")),
        )
    for kind in ("document", "voice", "audio"):
        body = getattr(message, kind)
        if body is None:
            continue
        file_id = _text_or_none(body.get("file_id"))
        if file_id is None:
            return None
        return ReceivedFile(
            kind=kind,
            file_id=file_id,
            file_size=_int(body.get("file_size")),
            file_name=_text_or_none(body.get("file_name")) or _text_or_none(body.get("title")),
            mime_type=_text_or_none(body.get("mime_type")),
            duration_s=_int(body.get("duration")),
        )
    return None


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """`/pair@MyBot  AB12` -> ("pair", "MyBot", "AB12"); None when the text is no command."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), match.group(2), (match.group(3) or "").strip()


def classify(
    update: Update, *, bot_username: str | None = None, max_photo_bytes: int | None = None
) -> Intent:
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
        found = received_file(message, max_photo_bytes=max_photo_bytes)
        if kind in RECEIVED_KINDS and found is not None:
            caption = message.caption or ""
            return PrivateMedia(uid, chat.id, message.message_id, message.from_, found, caption)
        return UnsupportedMedia(uid, chat.id, kind)
    name = _COMMAND_BY_NAME.get(command[0]) if command is not None else None
    if command is not None and name is not None:
        return Command(uid, chat.id, message.message_id, message.from_, name, command[2])
    if not text.strip():
        return Ignored(uid, "empty text")
    return PrivateText(uid, chat.id, message.message_id, message.from_, text)
