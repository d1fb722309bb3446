"""A local Telegram Bot API: the same HTTP interface as api.telegram.org, state in memory.

Production code reaches it only through the configurable base URL (`SOC_TELEGRAM_API_BASE`),
so tests and demos run the very code that talks to Telegram. It is strict where Telegram is
strict, because that is where our code can be wrong: HTML is parsed with Telegram's rules
(supported tags only, balanced, no entity inside `code`/`pre`, only `&lt; &gt; &amp; &quot;`
and numeric entities), texts over 4096 UTF-16 units are refused, an edit that changes nothing
is "message is not modified", `getUpdates` is refused while a webhook is set.

What tests get on top (Python, or over HTTP under `/_fake/` for a dev stack in another
process):
- every call recorded (`calls`, `GET /_fake/calls?method=`), every message kept with its
  edits (`messages`);
- scripted failures (`fail_next`: 429 with retry_after, 403, 5xx ...) and optional flood
  control (`flood_interval`: a second message call in a chat within that time gets 429);
- inbound updates: `user_message(...)` queues an update as Telegram would build it;
  `getUpdates` long-polls that queue, `deliver_pending()` POSTs it to the webhook URL with
  the secret header, in order, as Telegram does;
- files people send: `user_message(..., file=FakeFile(...))` makes a photo (in two sizes, as
  Telegram sends them), document, voice note or audio message whose bytes `getFile` locates
  and `/file/bot<token>/<path>` serves (`downloads` lists what was fetched); files over 20 MB
  are refused by `getFile` like Telegram refuses them to bots.
"""

from __future__ import annotations

import asyncio
import base64
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serverless_openclaw.core.media import image_info

DEFAULT_TOKEN: Final = "123456789:FAKE-telegram-bot-token_for-tests"  # noqa: S105 (fake)
MAX_TEXT: Final = 4096
MAX_BOT_DOWNLOAD: Final = 20 * 1024 * 1024
THUMBNAIL: Final = b"\xff\xd8\xff\xe0fake-thumbnail"
"""The small size Telegram adds to every photo (a bot should take the large one)."""
_SECRET_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND: Final = re.compile(r"^[a-z0-9_]{1,32}$")
_JSON_PARAMS: Final = frozenset(
    {"reply_parameters", "link_preview_options", "allowed_updates", "commands", "reply_markup"}
)
_INT_PARAMS: Final = frozenset({"chat_id", "message_id", "offset", "limit", "max_connections"})
_FLOAT_PARAMS: Final = frozenset({"timeout"})
_BOOL_PARAMS: Final = frozenset({"drop_pending_updates", "disable_notification"})

_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class BotApiFailure(Exception):
    """An `ok: false` answer."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> BotApiFailure:
    return BotApiFailure(400, f"Bad Request: {description}")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- Telegram's HTML -----------------------------------------------------------------------
class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.entities: list[dict[str, Any]] = []
        self.stack: list[tuple[str, str, int, dict[str, Any]]] = []

    def _offset(self) -> int:
        return _utf16("".join(self.text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _TAGS.get(tag)
        if kind is None:
            raise _bad(f'can\'t parse entities: Unsupported start tag "{tag}"')
        values = {key: value or "" for key, value in attrs}
        if tag == "span" and values.get("class") != "tg-spoiler":
            raise _bad('can\'t parse entities: Unsupported start tag "span"')
        outer = [entry[1] for entry in self.stack]
        if any(k in ("code", "pre") for k in outer) and not (kind == "code" and outer[-1] == "pre"):
            raise _bad("can't parse entities: entities can't be nested in code or pre")
        if kind in ("code", "pre") and any(k not in ("pre",) for k in outer):
            raise _bad(f"can't parse entities: {tag} can't be nested in other entities")
        if kind == "blockquote" and "blockquote" in outer:
            raise _bad("can't parse entities: blockquotes can't be nested")
        extra: dict[str, Any] = {}
        if kind == "text_link":
            if not values.get("href"):
                raise _bad("can't parse entities: text link without URL")
            extra["url"] = values["href"]
        if kind == "code" and outer and outer[-1] == "pre":
            language = values.get("class", "")
            if language.startswith("language-"):
                self.stack[-1][3]["language"] = language.removeprefix("language-")
            self.stack.append((tag, "code-in-pre", self._offset(), extra))
            return
        self.stack.append((tag, kind, self._offset(), extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _bad(f'can\'t parse entities: Unexpected end tag "{tag}"')
        open_tag, kind, start, extra = self.stack.pop()
        if open_tag != tag:
            raise _bad(
                "can't parse entities: Can't find end tag corresponding to start tag "
                f'"{open_tag}"'
            )
        length = self._offset() - start
        if kind != "code-in-pre" and length > 0:
            self.entities.append({"type": kind, "offset": start, "length": length, **extra})

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise _bad("can't parse entities: unexpected character '<'")
        if "&" in data:
            raise _bad("can't parse entities: character '&' is reserved")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED_ENTITIES:
            raise _bad(f'can\'t parse entities: Unsupported HTML entity "&{name};"')
        self.text.append(_NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        raise _bad("can't parse entities: comments are not supported")

    def handle_decl(self, decl: str) -> None:
        raise _bad("can't parse entities: declarations are not supported")

    def close(self) -> None:
        super().close()
        if self.rawdata:
            raise _bad("can't parse entities: unexpected end of text")
        if self.stack:
            raise _bad(
                "can't parse entities: Can't find end tag corresponding to start tag "
                f'"{self.stack[-1][0]}"'
            )


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram HTML -> (visible text, entities); `BotApiFailure` 400 as Telegram answers."""
    parser = _TelegramHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.text), sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


def _visible(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    entities: list[dict[str, Any]]
    if parse_mode is None or parse_mode == "":
        plain, entities = text, []
    elif parse_mode == "HTML":
        plain, entities = parse_html(text)
    else:
        raise _bad(f"unsupported parse_mode {parse_mode!r} in the fake server")
    stripped = plain.strip()
    if not stripped:
        raise _bad("message text is empty")
    if _utf16(stripped) > MAX_TEXT:
        raise _bad("message is too long")
    shift = _utf16(plain[: len(plain) - len(plain.lstrip())])
    limit = _utf16(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(limit, entity["offset"] - shift + entity["length"])
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --- state ---------------------------------------------------------------------------------
@dataclass
class FakeMessage:
    """A message the bot sent. `text` is what the person sees now; `versions` every text it
    showed, first to last (so `len(versions) - 1` is the number of edits)."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    parse_mode: str | None
    versions: list[str]
    sent_at: float
    reply_to: int | None = None
    deleted: bool = False

    @property
    def edits(self) -> int:
        return len(self.versions) - 1


FileKind = Literal["photo", "document", "voice", "audio"]


@dataclass(frozen=True)
class FakeFile:
    """A file a person sends. A photo's width and height come from its bytes when they are
    an image we can read (otherwise 1280x960)."""

    kind: FileKind
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    duration: int | None = None


@dataclass(frozen=True)
class RecordedCall:
    method: str
    params: dict[str, Any]
    at: float
    status: int
    result: Any


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None


@dataclass
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class FakeTelegram:
    """The fake Bot API. `app` is the Starlette application; serve it with
    `local.serve.serve_in_thread(fake.app)` and point `telegram_api_base` at its URL."""

    token: str = DEFAULT_TOKEN
    bot_username: str = "serverless_openclaw_fake_bot"
    flood_interval: float | None = None
    """Seconds Telegram-like flood control wants between message calls in one chat."""
    clock: Callable[[], float] = time.monotonic

    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _calls: list[RecordedCall] = field(default_factory=list, repr=False)
    _messages: dict[tuple[int, int], FakeMessage] = field(default_factory=dict, repr=False)
    _message_ids: dict[int, itertools.count[int]] = field(default_factory=dict, repr=False)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _last_message_call: dict[int, float] = field(default_factory=dict, repr=False)
    _updates: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _next_update_id: int = 100_000
    _commands: list[dict[str, str]] = field(default_factory=list, repr=False)
    _files: dict[str, tuple[str, bytes]] = field(default_factory=dict, repr=False)
    _file_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    downloads: list[str] = field(default_factory=list)
    """File paths downloaded, in order."""
    blocked_chats: set[int] = field(default_factory=set)
    webhook: WebhookState = field(default_factory=WebhookState)

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    # --- what tests read -------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def messages(
        self, chat_id: int | None = None, *, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """Messages the bot sent, in the order it sent them."""
        with self._lock:
            found = [
                message
                for message in self._messages.values()
                if (chat_id is None or message.chat_id == chat_id)
                and (include_deleted or not message.deleted)
            ]
        return sorted(found, key=lambda m: (m.sent_at, m.message_id))

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [message.text for message in self.messages(chat_id)]

    @property
    def commands(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._commands)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    # --- scripting -------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next `times` calls of `method` (in `chat_id`, if given) fail like this."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after or 1}"
                if status == 429
                else "Internal Server Error"
            )
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.append(
                _Failure(method, status, description, retry_after, times, chat_id)
            )

    def user_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        username: str | None = "someone",
        chat_type: str = "private",
        edited: bool = False,
        media: str | None = None,
        message_id: int | None = None,
        file: FakeFile | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Queue the update Telegram would make when a person writes to the bot (`media`
        marks a message of that kind without usable content; `file` sends a real one)."""
        sender = user_id if user_id is not None else abs(chat_id)
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update(first_name="Some", username=username)
        else:
            chat["title"] = "A group"
        message: dict[str, Any] = {
            "message_id": message_id or next(self._ids(chat_id)),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": sender, "is_bot": False, "first_name": "Some", "username": username},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if media is not None:
            message[media] = [{"file_id": "f"}] if media == "photo" else {"file_id": "f"}
        if file is not None:
            message[file.kind] = self._describe(file)
        if caption is not None:
            message["caption"] = caption
        if edited:
            message["edit_date"] = int(time.time())
        with self._lock:
            update = {
                "update_id": self._next_update_id,
                "edited_message" if edited else "message": message,
            }
            self._next_update_id += 1
            self._updates.append(update)
        return update

    def deliver_pending(self, *, timeout: float = 30.0) -> list[int]:
        """POST queued updates to the webhook, oldest first, stopping at the first failure
        (Telegram retries it later, in order). Returns the HTTP statuses seen. Call it from a
        thread other than the server's."""
        with self._lock:
            url, secret = self.webhook.url, self.webhook.secret_token
        if not url:
            raise RuntimeError("no webhook is set")
        statuses: list[int] = []
        with httpx.Client(timeout=timeout) as client:
            while True:
                with self._lock:
                    if not self._updates:
                        break
                    update = self._updates[0]
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                try:
                    response = client.post(url, json=update, headers=headers)
                    status = response.status_code
                    error = (
                        None
                        if 200 <= status < 300
                        else f"Wrong response from the webhook: {status}"
                    )
                except httpx.HTTPError as exc:
                    status, error = 0, f"Connection failed: {type(exc).__name__}"
                statuses.append(status)
                with self._lock:
                    if error is not None:
                        self.webhook.last_error_date = int(time.time())
                        self.webhook.last_error_message = error
                        break
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
        return statuses

    # --- files ---------------------------------------------------------------------------
    def add_file(self, data: bytes, *, extension: str = "") -> dict[str, Any]:
        """Keep bytes as Telegram keeps a file; returns its `file_id`/`file_unique_id`/size."""
        with self._lock:
            number = next(self._file_ids)
            file_id = f"AgAC-fake-file-{number:06d}"
            self._files[file_id] = (f"documents/file_{number}{extension}", data)
        return {"file_id": file_id, "file_unique_id": f"uniq{number}", "file_size": len(data)}

    def _describe(self, file: FakeFile) -> Any:
        """The message field Telegram builds for a file of this kind."""
        if file.kind == "photo":
            info = image_info(file.data)
            width, height = (info.width, info.height) if info else (1280, 960)
            scale = min(1.0, 90 / max(width, height))
            thumb = {
                **self.add_file(THUMBNAIL, extension=".jpg"),
                "width": max(1, int(width * scale)),
                "height": max(1, int(height * scale)),
            }
            full = {**self.add_file(file.data, extension=".jpg"), "width": width, "height": height}
            return [thumb, full]
        described: dict[str, Any] = self.add_file(file.data)
        if file.file_name is not None:
            described["file_name"] = file.file_name
        if file.mime_type is not None:
            described["mime_type"] = file.mime_type
        if file.duration is not None:
            described["duration"] = file.duration
        return described

    def _get_file(self, params: Mapping[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise _bad("invalid file_id")
        path, data = found
        if len(data) > MAX_BOT_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"uniq-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        path = request.path_params["path"]
        with self._lock:
            found = next((data for p, data in self._files.values() if p == path), None)
            if found is not None:
                self.downloads.append(path)
        if found is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return Response(found, media_type="application/octet-stream")

    # --- the Bot API -----------------------------------------------------------------------
    def _ids(self, chat_id: int) -> itertools.count[int]:
        with self._lock:
            return self._message_ids.setdefault(chat_id, itertools.count(1))

    def _scripted(self, method: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            for failure in self._failures:
                if failure.method != method:
                    continue
                if failure.chat_id is not None and params.get("chat_id") != failure.chat_id:
                    continue
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise BotApiFailure(
                    failure.status, failure.description, retry_after=failure.retry_after
                )

    def _flood(self, chat_id: int) -> None:
        if self.flood_interval is None:
            return
        now = self.clock()
        with self._lock:
            last = self._last_message_call.get(chat_id)
            if last is not None and now - last < self.flood_interval:
                wait = max(1, int(self.flood_interval - (now - last) + 0.999))
                raise BotApiFailure(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            self._last_message_call[chat_id] = now

    def _chat(self, params: Mapping[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise _bad("chat_id is empty")
        if chat_id in self.blocked_chats:
            raise BotApiFailure(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _message_json(self, message: FakeMessage, *, edited: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "OpenClaw",
                "username": self.bot_username,
            },
            "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "group"},
            "date": int(time.time()),
            "text": message.text,
        }
        if message.entities:
            body["entities"] = message.entities
        if edited:
            body["edit_date"] = int(time.time())
        return body

    def _send_message(self, params: Mapping[str, Any]) -> Any:
        chat_id = self._chat(params)
        text, entities = _visible(str(params.get("text", "")), params.get("parse_mode"))
        self._flood(chat_id)
        reply = params.get("reply_parameters")
        with self._lock:
            message = FakeMessage(
                chat_id=chat_id,
                message_id=next(self._ids(chat_id)),
                text=text,
                entities=entities,
                parse_mode=params.get("parse_mode"),
                versions=[text],
                sent_at=time.monotonic(),
                reply_to=reply.get("message_id") if isinstance(reply, dict) else None,
            )
            self._messages[(chat_id, message.message_id)] = message
            return self._message_json(message)

    def _edit_message_text(self, params: Mapping[str, Any]) -> Any:
        chat_id = self._chat(params)
        text, entities = _visible(str(params.get("text", "")), params.get("parse_mode"))
        with self._lock:
            message = self._messages.get((chat_id, int(params.get("message_id", 0))))
            if message is None or message.deleted:
                raise _bad("message to edit not found")
            if message.text == text and message.entities == entities:
                raise _bad(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
        self._flood(chat_id)
        with self._lock:
            message.text, message.entities = text, entities
            message.parse_mode = params.get("parse_mode")
            message.versions.append(text)
            return self._message_json(message, edited=True)

    def _delete_message(self, params: Mapping[str, Any]) -> Any:
        chat_id = self._chat(params)
        with self._lock:
            message = self._messages.get((chat_id, int(params.get("message_id", 0))))
            if message is None or message.deleted:
                raise _bad("message to delete not found")
            message.deleted = True
        return True

    def _send_chat_action(self, params: Mapping[str, Any]) -> Any:
        self._chat(params)
        if params.get("action") not in (
            "typing",
            "upload_document",
            "upload_photo",
            "record_voice",
        ):
            raise _bad("wrong parameter action in request")
        return True

    def _set_webhook(self, params: Mapping[str, Any]) -> Any:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url and not url.startswith(("https://", "http://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            allowed = params.get("allowed_updates")
            self.webhook = WebhookState(
                url=url,
                secret_token=str(secret) if secret is not None and url else None,
                allowed_updates=list(allowed) if isinstance(allowed, list) else None,
                max_connections=params.get("max_connections"),
            )
        return True

    def _delete_webhook(self, params: Mapping[str, Any]) -> Any:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook = WebhookState()
        return True

    def _get_webhook_info(self, params: Mapping[str, Any]) -> Any:
        with self._lock:
            info: dict[str, Any] = {
                "url": self.webhook.url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook.url:
                info["max_connections"] = self.webhook.max_connections or 40
                info["ip_address"] = "127.0.0.1"
                if self.webhook.allowed_updates is not None:
                    info["allowed_updates"] = self.webhook.allowed_updates
                if self.webhook.last_error_date is not None:
                    info["last_error_date"] = self.webhook.last_error_date
                    info["last_error_message"] = self.webhook.last_error_message
        return info

    def _set_my_commands(self, params: Mapping[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command"))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self._commands = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _get_me(self, params: Mapping[str, Any]) -> Any:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "OpenClaw",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _take_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        with self._lock:
            if self.webhook.url:
                raise BotApiFailure(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            offset = params.get("offset")
            if isinstance(offset, int) and offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            limit = max(1, min(int(params.get("limit", 100)), 100))
            allowed = params.get("allowed_updates")
            found = [
                u
                for u in self._updates
                if not isinstance(allowed, list) or not allowed or any(k in u for k in allowed)
            ]
            return found[:limit] or None

    async def _get_updates(self, params: Mapping[str, Any]) -> Any:
        deadline = time.monotonic() + max(0.0, min(float(params.get("timeout", 0)), 50.0))
        while True:
            found = self._take_updates(params)
            if found is not None or time.monotonic() >= deadline:
                return found or []
            await asyncio.sleep(0.02)

    async def _dispatch(self, token: str, method: str, params: Mapping[str, Any]) -> Any:
        if token != self.token:
            raise BotApiFailure(401, "Unauthorized")
        handlers = {
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "deletemessage": self._delete_message,
            "sendchataction": self._send_chat_action,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getme": self._get_me,
            "getfile": self._get_file,
        }
        key = method.lower()
        self._scripted(method, params)
        if key == "getupdates":
            return await self._get_updates(params)
        handler = handlers.get(key)
        if handler is None:
            raise BotApiFailure(404, "Not Found")
        return handler(params)

    # --- HTTP ------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        params: dict[str, Any] = {}
        status, result = 200, None
        try:
            params = await _read_params(request)
            result = await self._dispatch(token, method, params)
            body: dict[str, Any] = {"ok": True, "result": result}
        except BotApiFailure as failure:
            status = failure.status
            body = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
        with self._lock:
            self._calls.append(RecordedCall(method, params, self.clock(), status, result))
        return JSONResponse(body, status_code=status)

    async def _control_updates(self, request: Request) -> Response:
        """`{"chatId", "text"?, "chatType"?, "username"?, "caption"?, "file"?: {"kind",
        "base64", "fileName"?, "mimeType"?, "duration"?}}`"""
        payload = await request.json()
        sent = payload.get("file")
        file = (
            FakeFile(
                kind=sent["kind"],
                data=base64.b64decode(sent["base64"]),
                file_name=sent.get("fileName"),
                mime_type=sent.get("mimeType"),
                duration=sent.get("duration"),
            )
            if isinstance(sent, dict)
            else None
        )
        update = self.user_message(
            int(payload["chatId"]),
            payload.get("text"),
            chat_type=payload.get("chatType", "private"),
            username=payload.get("username", "someone"),
            file=file,
            caption=payload.get("caption"),
        )
        return JSONResponse(update, status_code=201)

    async def _control_messages(self, request: Request) -> Response:
        chat = request.query_params.get("chatId")
        messages = self.messages(int(chat) if chat else None)
        return JSONResponse(
            [
                {"chatId": m.chat_id, "messageId": m.message_id, "text": m.text, "edits": m.edits}
                for m in messages
            ]
        )

    async def _control_calls(self, request: Request) -> Response:
        """Recorded Bot API calls (optionally of one `method`), `at` on the fake's clock."""
        calls = self.calls(request.query_params.get("method"))
        return JSONResponse(
            [
                {"method": c.method, "params": c.params, "at": c.at, "status": c.status}
                for c in calls
            ]
        )

    async def _control_deliver(self, request: Request) -> Response:
        statuses = await asyncio.to_thread(self.deliver_pending)
        return JSONResponse({"statuses": statuses})

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
                Route("/_fake/updates", self._control_updates, methods=["POST"]),
                Route("/_fake/messages", self._control_messages, methods=["GET"]),
                Route("/_fake/calls", self._control_calls, methods=["GET"]),
                Route("/_fake/deliver", self._control_deliver, methods=["POST"]),
            ]
        )


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string, JSON body or urlencoded form, as Telegram accepts them all."""
    raw: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise _bad("can't parse JSON object") from exc
            if not isinstance(decoded, dict):
                raise _bad("can't parse JSON object")
            raw.update(decoded)
            return raw
    elif content_type.startswith("application/x-www-form-urlencoded"):
        raw.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/"):
        raise _bad("multipart bodies (file uploads) are not supported by the fake server")
    return {key: _coerce(key, value) for key, value in raw.items()}


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if name in _JSON_PARAMS:
            return json.loads(value)
        if name in _INT_PARAMS:
            return int(value)
        if name in _FLOAT_PARAMS:
            return float(value)
    except ValueError as exc:
        raise _bad(f"wrong parameter {name}") from exc
    if name in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    return value
