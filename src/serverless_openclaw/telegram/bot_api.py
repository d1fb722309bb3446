"""The one Telegram Bot API client, for the webhook Lambda (sync) and the bridge (async).

Every method is a function that builds an `ApiCall[T]` (method name, JSON parameters, how to
read the result). `BotApi.call` and `AsyncBotApi.call` only move it over HTTP; building
requests and reading answers (including errors) happens once, here. The base URL is a
setting, so the same code talks to api.telegram.org and to the local fake server.

The bot token is part of every URL path (`/bot<token>/<method>`). It never appears in our
messages or exceptions, and httpx's request log lines are redacted (httpx logs URLs at INFO).

    api = AsyncBotApi(token, base_url=settings.telegram_api_base)
    sent = await api.call(send_message(chat_id, "hello"))
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Generic, Literal, Protocol, Self, TypeVar

import httpx
from pydantic import SecretStr, TypeAdapter, ValidationError

from serverless_openclaw.adapters.http_pool import HttpPool
from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.telegram.updates import (
    BotCommand,
    File,
    Message,
    Update,
    User,
    WebhookInfo,
)

T = TypeVar("T")

DEFAULT_API_BASE: Final = "https://api.telegram.org"
DEFAULT_TIMEOUT: Final = 10.0
"""Seconds for one Bot API call; long polls add their own `timeout` on top."""
MAX_MESSAGE_CHARS: Final = 4096
"""Telegram's limit on a message's text after entity parsing (in UTF-16 code units)."""
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
"""The largest file bots may download (`getFile` refuses bigger ones)."""
DOWNLOAD_TIMEOUT: Final = 15.0
HANDLER_TIMEOUT: Final = 5.0
"""Seconds for a call from a Lambda handler: the bot's own notices must not hold the
webhook's answer (and Telegram's next update) up."""

ParseMode = Literal["HTML", "MarkdownV2"]
ChatAction = Literal["typing", "upload_document", "upload_photo", "record_voice"]


# --- errors --------------------------------------------------------------------------------
class TelegramApiError(TelegramError):
    """Telegram answered `ok: false` (or not at all). `description` is Telegram's own text,
    which is the only way to tell some 400s apart ("message is not modified")."""

    def __init__(
        self,
        method: str,
        description: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        prefix = f"Telegram {method} failed" + (f" ({status})" if status is not None else "")
        super().__init__(f"{prefix}: {description}", status=status, retry_after_s=retry_after_s)
        self.method = method
        self.description = description


def _description(err: TelegramError) -> str:
    return err.description if isinstance(err, TelegramApiError) else str(err)


def is_retryable(err: TelegramError) -> bool:
    """Flood control, Telegram's own trouble and network failures pass; the rest will not."""
    return err.status is None or err.status == 429 or err.status >= 500


def is_not_modified(err: TelegramError) -> bool:
    """An edit with the text the message already has: harmless, nothing to do."""
    return err.status == 400 and "message is not modified" in _description(err).lower()


def is_parse_error(err: TelegramError) -> bool:
    """Our HTML was refused; sending the same words as plain text will work."""
    return err.status == 400 and "can't parse entities" in _description(err).lower()


def is_message_gone(err: TelegramError) -> bool:
    """The message we wanted to edit was deleted (by the person, or it never existed)."""
    text = _description(err).lower()
    return err.status == 400 and (
        "message to edit not found" in text or "message can't be edited" in text
    )


# --- requests ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One Bot API request and how to read its result. `timeout` None = the client default."""

    method: str
    params: dict[str, Any]
    result: Callable[[Any], T] = field(repr=False)
    timeout: float | None = None


def _reader(adapter: TypeAdapter[T]) -> Callable[[Any], T]:
    return adapter.validate_python


_AS_MESSAGE: Final = _reader(TypeAdapter(Message))
_AS_EDITED: Final = _reader(TypeAdapter(Message | bool))
_AS_BOOL: Final = _reader(TypeAdapter(bool))
_AS_USER: Final = _reader(TypeAdapter(User))
_AS_UPDATES: Final = _reader(TypeAdapter(list[Update]))
_AS_RAW_UPDATES: Final = _reader(TypeAdapter(list[dict[str, Any]]))
_AS_WEBHOOK_INFO: Final = _reader(TypeAdapter(WebhookInfo))
_AS_FILE: Final = _reader(TypeAdapter(File))


def _params(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def send_message(
    chat_id: int,
    text: str,
    *,
    parse_mode: ParseMode | None = None,
    reply_to_message_id: int | None = None,
    disable_notification: bool | None = None,
    link_preview: bool = False,
) -> ApiCall[Message]:
    reply = (
        {"message_id": reply_to_message_id, "allow_sending_without_reply": True}
        if reply_to_message_id is not None
        else None
    )
    return ApiCall(
        "sendMessage",
        _params(
            chat_id=chat_id,
            text=text,
            parse_mode=parse_mode,
            reply_parameters=reply,
            disable_notification=disable_notification,
            link_preview_options=None if link_preview else {"is_disabled": True},
        ),
        _AS_MESSAGE,
    )


def edit_message_text(
    chat_id: int,
    message_id: int,
    text: str,
    *,
    parse_mode: ParseMode | None = None,
    link_preview: bool = False,
) -> ApiCall[Message | bool]:
    return ApiCall(
        "editMessageText",
        _params(
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            parse_mode=parse_mode,
            link_preview_options=None if link_preview else {"is_disabled": True},
        ),
        _AS_EDITED,
    )


def delete_message(chat_id: int, message_id: int) -> ApiCall[bool]:
    return ApiCall("deleteMessage", {"chat_id": chat_id, "message_id": message_id}, _AS_BOOL)


def send_chat_action(chat_id: int, action: ChatAction = "typing") -> ApiCall[bool]:
    return ApiCall("sendChatAction", {"chat_id": chat_id, "action": action}, _AS_BOOL)


def delete_webhook(*, drop_pending_updates: bool = False) -> ApiCall[bool]:
    return ApiCall("deleteWebhook", {"drop_pending_updates": drop_pending_updates}, _AS_BOOL)


def set_webhook(
    url: str,
    *,
    secret_token: str,
    allowed_updates: Sequence[str] = ("message", "edited_message"),
    drop_pending_updates: bool = False,
    max_connections: int | None = None,
) -> ApiCall[bool]:
    return ApiCall(
        "setWebhook",
        _params(
            url=url,
            secret_token=secret_token,
            allowed_updates=list(allowed_updates),
            drop_pending_updates=drop_pending_updates,
            max_connections=max_connections,
        ),
        _AS_BOOL,
    )


def get_webhook_info() -> ApiCall[WebhookInfo]:
    return ApiCall("getWebhookInfo", {}, _AS_WEBHOOK_INFO)


def set_my_commands(commands: Sequence[BotCommand]) -> ApiCall[bool]:
    return ApiCall(
        "setMyCommands",
        {"commands": [command.model_dump() for command in commands]},
        _AS_BOOL,
    )


def _get_updates_params(
    offset: int | None, limit: int, timeout: int, allowed_updates: Sequence[str] | None
) -> dict[str, Any]:
    return _params(
        offset=offset,
        limit=limit,
        timeout=timeout,
        allowed_updates=list(allowed_updates) if allowed_updates is not None else None,
    )


def get_updates(
    *,
    offset: int | None = None,
    limit: int = 100,
    timeout: int = 0,
    allowed_updates: Sequence[str] | None = None,
) -> ApiCall[list[Update]]:
    """A long poll: the HTTP timeout is the poll's own plus the usual margin."""
    return ApiCall(
        "getUpdates",
        _get_updates_params(offset, limit, timeout, allowed_updates),
        _AS_UPDATES,
        timeout=timeout + DEFAULT_TIMEOUT,
    )


def get_updates_raw(
    *,
    offset: int | None = None,
    limit: int = 100,
    timeout: int = 0,
    allowed_updates: Sequence[str] | None = None,
) -> ApiCall[list[dict[str, Any]]]:
    """`get_updates` as Telegram sent them, unknown fields included (to pass them on as a
    webhook would)."""
    return ApiCall(
        "getUpdates",
        _get_updates_params(offset, limit, timeout, allowed_updates),
        _AS_RAW_UPDATES,
        timeout=timeout + DEFAULT_TIMEOUT,
    )


def get_me() -> ApiCall[User]:
    return ApiCall("getMe", {}, _AS_USER)


def get_file(file_id: str) -> ApiCall[File]:
    """Where a file the person sent can be downloaded (`BotApi.download`)."""
    return ApiCall("getFile", {"file_id": file_id}, _AS_FILE)


# --- responses -----------------------------------------------------------------------------
def parse_response(call: ApiCall[T], status: int, content: bytes) -> T:
    """Telegram's envelope -> the result, or a TelegramApiError with status and retry_after."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TelegramApiError(
            call.method, f"HTTP {status} without a Bot API answer", status=status
        )
    if body.get("ok") is True:
        try:
            return call.result(body.get("result"))
        except ValidationError as exc:
            raise TelegramApiError(
                call.method, f"unexpected result ({exc.error_count()} problems)", status=status
            ) from exc
    description = str(body.get("description") or f"HTTP {status}")
    code = body.get("error_code")
    parameters = body.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return_status = code if isinstance(code, int) else status
    raise TelegramApiError(
        call.method,
        description,
        status=return_status,
        retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


def _network_error(call: ApiCall[Any], exc: httpx.HTTPError) -> TelegramApiError:
    # httpx's own message may carry the URL, which carries the token: name the type only.
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    return TelegramApiError(call.method, f"network error: {kind}")


# --- token hygiene -------------------------------------------------------------------------
_TOKEN_IN_URL: Final = re.compile(r"/bot[0-9]+:[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """Hide bot tokens in URLs (`/bot123:abc/sendMessage` -> `/bot<redacted>/sendMessage`)."""
    return _TOKEN_IN_URL.sub("/bot<redacted>", text)


class _RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _RedactTokens) for existing in logger.filters):
            logger.addFilter(_RedactTokens())


def _secret(token: SecretStr | str) -> str:
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    if not value or "/" in value:
        raise TelegramError("the bot token is empty or malformed")
    return value


# --- transports ----------------------------------------------------------------------------
class AsyncTelegramApi(Protocol):
    """What the bridge needs from Telegram; tests may pass any object with this method."""

    async def call(self, call: ApiCall[T]) -> T: ...


class SyncTelegramApi(Protocol):
    """What the webhook handler and the CLI need from Telegram."""

    def call(self, call: ApiCall[T]) -> T: ...


class _Base:
    def __init__(self, token: SecretStr | str, base_url: str, timeout: float) -> None:
        self._token = SecretStr(_secret(token))
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        _install_log_redaction()

    def _url(self, method: str) -> str:
        return f"{self._base_url}/bot{self._token.get_secret_value()}/{method}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"


class BotApi(_Base):
    """Blocking client (Lambda handler, CLI). Pass `client` to share a connection pool."""

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = DEFAULT_API_BASE,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(token, base_url, timeout)
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def call(self, call: ApiCall[T]) -> T:
        try:
            response = self._client.post(
                self._url(call.method), json=call.params, timeout=call.timeout or self._timeout
            )
        except httpx.HTTPError as exc:
            raise _network_error(call, exc) from exc
        return parse_response(call, response.status_code, response.content)

    def fetch(self, file_id: str, *, max_bytes: int) -> bytes:
        """A file the person sent: `getFile`, then the download."""
        located = self.call(get_file(file_id))
        if not located.file_path:
            raise TelegramApiError("getFile", "no file path in the answer")
        return self.download(located.file_path, max_bytes=max_bytes)

    def download(
        self, file_path: str, *, max_bytes: int, timeout: float = DOWNLOAD_TIMEOUT
    ) -> bytes:
        """The bytes of a file `get_file` located; `TelegramApiError` when they cannot be
        had, or there are more than `max_bytes` (it stops reading there)."""
        if ".." in file_path.split("/") or file_path.startswith("/"):
            raise TelegramApiError("download", "unexpected file path")
        url = f"{self._base_url}/file/bot{self._token.get_secret_value()}/{file_path}"
        try:
            with self._client.stream("GET", url, timeout=timeout) as response:
                if response.status_code != 200:
                    raise TelegramApiError(
                        "download", f"HTTP {response.status_code}", status=response.status_code
                    )
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise TelegramApiError("download", f"more than {max_bytes} bytes")
                return bytes(data)
        except httpx.HTTPError as exc:
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
            raise TelegramApiError("download", f"network error: {kind}") from exc

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BotClients:
    """Blocking clients for whichever bot token is configured, over one connection pool: what
    a handler container keeps between invocations (a rotated token gets a client of its own,
    on the same pool). `close()` ends the pool: the dev stack's stop, a test's end; a later
    `for_token` opens a new one."""

    def __init__(
        self, *, base_url: str = DEFAULT_API_BASE, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pool = HttpPool(timeout=timeout)
        self._bots: dict[str, BotApi] = {}

    def for_token(self, token: SecretStr) -> BotApi:
        key = _secret(token)
        with self._lock:
            bot = self._bots.get(key)
            if bot is None:
                bot = BotApi(
                    token,
                    base_url=self._base_url,
                    client=self._pool.client(),
                    timeout=self._timeout,
                )
                self._bots[key] = bot
            return bot

    def close(self) -> None:
        with self._lock:
            self._bots.clear()
            self._pool.close()

    def __repr__(self) -> str:
        return f"BotClients(base_url={self._base_url!r}, tokens={len(self._bots)})"


class AsyncBotApi(_Base):
    """Asyncio client (the bridge, the dev-stack poller)."""

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = DEFAULT_API_BASE,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(token, base_url, timeout)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def call(self, call: ApiCall[T]) -> T:
        try:
            response = await self._client.post(
                self._url(call.method), json=call.params, timeout=call.timeout or self._timeout
            )
        except httpx.HTTPError as exc:
            raise _network_error(call, exc) from exc
        return parse_response(call, response.status_code, response.content)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
