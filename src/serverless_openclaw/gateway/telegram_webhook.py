"""POST /telegram/webhook: Telegram's updates in, work handed to the user's inbox (D3, D9).

1. The `X-Telegram-Bot-Api-Secret-Token` header is compared in constant time with the
   webhook secret. Wrong, missing, or Telegram not configured: 401 and nothing else (no
   store read or write, no queue, no Bot API call).
2. Each update is processed once: powertools idempotency on the idempotency table, keyed by
   `update_id` (Telegram redelivers until it sees a 2xx). A failure deletes the record and
   answers 500, so Telegram's retry does the work; a copy arriving while the first is still
   being processed answers 503 and is retried too.
3. Processing is quick: a message from a paired chat becomes a `ChatJob` (`tg-<update_id>`,
   reply to this chat) through `services.submit_chat_job`, which queues it and wakes the
   agent; when the agent is not awake the chat hears so at once. Commands are answered here.
   An unpaired chat only ever gets pairing instructions: it has no user, so it cannot reach
   a queue or a task.

The bot's own notices are best effort: a Bot API failure is logged, never a reason to have
Telegram redeliver (the job is already queued; the bridge answers in any case).
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from pydantic import SecretStr, ValidationError

from serverless_openclaw.app import attachments, people
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.contracts.jobs import ChatJob, TelegramReplyTo
from serverless_openclaw.contracts.limits import (
    MAIN_CONVERSATION_ID,
    MAX_IMAGE_BYTES,
    MAX_TEXT_BYTES,
    NUL,
    NUL_REFUSED,
)
from serverless_openclaw.core import pairing
from serverless_openclaw.core.attachments import MAX_BYTES, check
from serverless_openclaw.core.errors import (
    InvalidRequest,
    NotFound,
    OpenClawError,
    QuotaExceeded,
    StorageUnavailable,
    TelegramError,
)
from serverless_openclaw.gateway.observability import entry, logger
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram import replies
from serverless_openclaw.telegram.secrets import resolve_bot_token, resolve_secrets
from serverless_openclaw.telegram.updates import (
    Command,
    EditedMessage,
    GroupMessage,
    Ignored,
    Intent,
    PrivateMedia,
    PrivateText,
    ReceivedFile,
    UnsupportedMedia,
    Update,
    classify,
)

SECRET_HEADER: Final = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
DEDUPE_WINDOW: Final = timedelta(hours=24)
"""Telegram gives up redelivering an update well within a day."""
MAX_BODY_BYTES: Final = 1024 * 1024
REMOVED: Final = (
    "This chat is no longer linked to an account: the administrator of this agent removed "
    "it. Nothing you send here reaches the agent."
)
"""What the chat of a removed person hears (app/people.py), instead of pairing help."""

_EMPTY: Final = ""


def _response(status: int) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "text/plain"}, "body": _EMPTY}


def secret_matches(presented: str | None, expected: SecretStr) -> bool:
    """Constant time, also in the length (both sides are hashed to the same size first)."""
    if presented is None:
        return False
    return hmac.compare_digest(
        _digest(presented.encode()), _digest(expected.get_secret_value().encode())
    )


def _digest(value: bytes) -> bytes:
    return hmac.new(b"telegram-webhook-secret", value, "sha256").digest()


# --- per-container state ------------------------------------------------------------------
_lambda_context: ContextVar[Any] = ContextVar("telegram_webhook_lambda_context", default=None)


def tell_chat(services: Services, chat_id: int, text: str) -> None:
    """A notice of the bot to one chat, outside any update (best effort: Telegram not
    configured, or down, is logged and nothing else)."""
    try:
        token = resolve_bot_token(services.settings.telegram, services.secrets)
        if token is not None:
            services.telegram_bots.for_token(token).call(tg.send_message(chat_id, text))
    except OpenClawError as exc:
        logger.warning("telegram: notice not delivered", extra={"error": str(exc)})


# --- the handler ---------------------------------------------------------------------------
def _looks_like_webhook_event(raw: Any) -> bool:
    """An HTTP API event whose parts we read have the types API Gateway gives them."""
    if not isinstance(raw, dict):
        return False
    headers = raw.get("headers")
    return (
        (
            headers is None
            or (
                isinstance(headers, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
            )
        )
        and isinstance(raw.get("body"), (str, type(None)))
        and isinstance(raw.get("isBase64Encoded", False), bool)
    )


def handle(raw: Any, services: Services) -> dict[str, Any]:
    if not _looks_like_webhook_event(raw):
        logger.warning("telegram: malformed event")
        return _response(400)
    event = APIGatewayProxyEventV2(raw)
    secrets = resolve_secrets(services.settings.telegram, services.secrets)
    if secrets is None or not secret_matches(
        event.headers.get(SECRET_HEADER), secrets.webhook_secret
    ):
        logger.warning("telegram: webhook call without the right secret")
        return _response(401)
    try:
        body = event.decoded_body or ""
    except ValueError:  # base64 that is not, or bytes that are not UTF-8
        return _response(400)
    if len(body) > MAX_BODY_BYTES:
        return _response(413)
    try:
        update = Update.model_validate_json(body)
    except ValidationError:
        # From Telegram (the secret matched) but unreadable: redelivery would not help.
        logger.warning("telegram: unreadable update ignored")
        return _response(200)
    logger.append_keys(update_id=update.update_id)
    webhook = _Webhook(services, services.telegram_bots.for_token(secrets.bot_token))
    config = IdempotencyConfig(
        event_key_jmespath="update_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=int(DEDUPE_WINDOW.total_seconds()),
        lambda_context=_lambda_context.get(),
    )
    process = idempotent_function(
        data_keyword_argument="update",
        persistence_store=services.idempotency,
        config=config,
        key_prefix="telegram-update",
    )(webhook.process)
    try:
        process(update={"update_id": update.update_id, "raw": body})
    except IdempotencyAlreadyInProgressError:
        return _response(503)  # Telegram retries; by then the first copy has finished
    except IdempotencyPersistenceLayerError as exc:
        logger.error("telegram: idempotency store unavailable", extra={"error": str(exc)})
        return _response(503)
    except StorageUnavailable as exc:
        logger.error("telegram: storage unavailable", extra={"error": str(exc)})
        return _response(500)
    return _response(200)


@dataclass(frozen=True)
class _Webhook:
    services: Services
    bot: tg.BotApi

    def process(self, update: dict[str, Any]) -> dict[str, str]:
        """Once per update_id. The returned summary is what a duplicate gets back."""
        parsed = Update.model_validate_json(update["raw"])
        intent = classify(parsed, max_photo_bytes=MAX_IMAGE_BYTES)
        outcome = self._dispatch(intent)
        logger.info("telegram update", extra={"intent": type(intent).__name__, "outcome": outcome})
        return {"outcome": outcome}

    def _dispatch(self, intent: Intent) -> str:
        match intent:
            case Ignored():
                return "ignored"
            case GroupMessage(chat_id=chat_id, is_command=is_command):
                if is_command:
                    self._say(chat_id, replies.GROUPS_UNSUPPORTED)
                return "group"
            case EditedMessage(chat_id=chat_id):
                self._say(chat_id, replies.EDITS_UNSUPPORTED)
                return "edit"
            case UnsupportedMedia(chat_id=chat_id, kind=kind):
                self._say(chat_id, replies.unsupported_media(kind))
                return "media"
            case Command():
                return self._command(intent)
            case PrivateText():
                return self._text(intent)
            case PrivateMedia():
                return self._media(intent)

    # --- commands --------------------------------------------------------------------------
    def _command(self, command: Command) -> str:
        chat_id = command.chat_id
        if command.name == "pair" or (command.name == "start" and command.args):
            # `/start CODE` is what a t.me/<bot>?start=CODE link sends.
            return self._pair(command)
        user_id = self.services.telegram.user_for_chat(chat_id)
        if user_id is None:
            return self._unpaired(chat_id)
        logger.append_keys(user_id=user_id)
        match command.name:
            case "start" | "help":
                self._say(chat_id, replies.WELCOME)
            case "status":
                status = ops.agent_status(self.services, user_id)
                self._say(chat_id, replies.status(status, self.services.clock()))
            case "new":
                # OpenClaw's own `/new` starts a fresh session. It goes through the inbox like
                # any message, in the same FIFO group, so it stays in order with the messages
                # before and after it (a control job would use another group and could overtake).
                self._say(chat_id, replies.NEW_CONVERSATION)
                return self._text(
                    PrivateText(
                        update_id=command.update_id,
                        chat_id=chat_id,
                        message_id=command.message_id,
                        user=command.user,
                        text="/new",
                    )
                )
            case "stop":
                state = ops.stop(self.services, user_id, "stopped from Telegram")
                self._say(
                    chat_id, replies.STOPPING if state.state == "stopping" else replies.NOT_RUNNING
                )
        return command.name

    def _pair(self, command: Command) -> str:
        chat_id = command.chat_id
        if not command.args:
            self._say(chat_id, replies.PAIR_USAGE)
            return "pair_usage"
        code = pairing.normalize(command.args)
        if code is None:
            self._say(chat_id, replies.PAIR_MALFORMED)
            return "pair_malformed"
        now = self.services.clock()
        quotas = self.services.settings.quotas
        failures = pairing.failures_key(now)
        if self.services.counters.value(failures) >= quotas.pairing_failures_per_hour:
            logger.warning("telegram: pairing paused (too many wrong codes this hour)")
            self._say(chat_id, replies.pairing_paused(pairing.seconds_left_in_window(now)))
            return "pair_paused"
        try:
            user_id = self.services.telegram.redeem_pairing_code(
                chat_id, code, attempts_per_hour=quotas.pairing_attempts_per_hour, now=now
            )
        except QuotaExceeded:
            self._say(chat_id, replies.PAIR_RATE_LIMITED)
            return "pair_rate_limited"
        except NotFound:
            self.services.counters.increment(failures, expires_at=now + pairing.COUNTER_TTL)
            self._say(chat_id, replies.PAIR_REFUSED)
            return "pair_refused"
        username = command.user.username if command.user is not None else None
        previous = self.services.telegram.link_of_user(user_id)
        self.services.telegram.link(chat_id, user_id, username)
        logger.append_keys(user_id=user_id)
        self._say(chat_id, replies.PAIRED)
        if previous is not None and previous.chatId != chat_id:
            # One chat per person: the chat that was linked learns why it went quiet.
            self._say(previous.chatId, replies.UNLINKED_BY_NEW_CHAT)
        return "paired"

    # --- messages for the agent ------------------------------------------------------------
    def _media(self, media: PrivateMedia) -> str:
        """Fetch the file (getFile, then the download), keep it as the person's attachment
        and queue the message like a text with the caption. The id follows from the update,
        so a redelivered update overwrites the same attachment instead of adding one."""
        chat_id = media.chat_id
        user_id = self.services.telegram.user_for_chat(chat_id)
        if user_id is None:
            self._say(chat_id, replies.UNPAIRED)
            return "unpaired"
        logger.append_keys(user_id=user_id)
        found = media.file
        name = received_name(found, media.message_id)
        try:
            checked = check(name, found.mime_type, found.file_size or 1)
        except InvalidRequest as exc:
            self._say(chat_id, replies.attachment_refused(str(exc)))
            return "media_refused"
        try:
            data = self.bot.fetch(found.file_id, max_bytes=MAX_BYTES[checked.kind])
        except TelegramError as exc:
            logger.warning("telegram: file not fetched", extra={"error": str(exc)})
            self._say(chat_id, replies.MEDIA_NOT_FETCHED)
            return "media_failed"
        try:
            attachment = attachments.store_received(
                self.services,
                user_id,
                f"tg-{media.update_id:05d}-1",
                data,
                name=name,
                content_type=found.mime_type,
                width=found.width,
                height=found.height,
                duration_ms=found.duration_s * 1000 if found.duration_s is not None else None,
            )
        except InvalidRequest as exc:
            self._say(chat_id, replies.attachment_refused(str(exc)))
            return "media_refused"
        message = PrivateText(
            media.update_id, chat_id, media.message_id, media.user, text=media.caption
        )
        outcome = self._text(message, attachments=(attachment,))
        return "media_queued" if outcome == "queued" else outcome

    def _text(self, message: PrivateText, *, attachments: tuple[Attachment, ...] = ()) -> str:
        chat_id = message.chat_id
        user_id = self.services.telegram.user_for_chat(chat_id)
        if user_id is None:
            return self._unpaired(chat_id)
        logger.append_keys(user_id=user_id)
        text = message.text
        if NUL in text:
            # OpenClaw would refuse it after the person waited for the agent to wake.
            self._say(chat_id, replies.quota_exceeded(NUL_REFUSED))
            return "refused_nul"
        if len(text.encode()) > MAX_TEXT_BYTES:  # Telegram's 4096 characters always fit
            text = text.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")
        try:
            job = ChatJob(
                # Zero-padded so that small ids still make a valid job id (8+ characters).
                jobId=f"tg-{message.update_id:05d}",
                userId=user_id,
                source="telegram",
                conversationId=MAIN_CONVERSATION_ID,
                text=text,
                replyTo=TelegramReplyTo(chatId=chat_id, messageId=message.message_id),
                receivedAt=self.services.clock(),
                attachments=attachments,
            )
        except ValidationError:
            # Not an update Telegram makes (ids beyond any range). Answering 500 would make
            # Telegram redeliver it forever and hold back every later update.
            logger.warning("telegram: update cannot become a job; ignored")
            return "unusable"
        before = self.services.task_state.get(user_id).state
        try:
            submitted = ops.submit_chat_job(self.services, job)
        except QuotaExceeded as exc:
            self._say(chat_id, replies.quota_exceeded(str(exc)))
            return "quota_exceeded"
        if submitted.duplicate:
            return "duplicate"
        after = submitted.state.state if submitted.state is not None else None
        if submitted.wake_error is not None:
            self._say(chat_id, replies.WAKE_FAILED)
        elif before == "idle" and after == "starting":
            self._say(chat_id, replies.WAKING)  # once per wake, not for every message
        elif before == "stopping":
            self._say(chat_id, replies.RESTARTING)
        elif after == "running":
            self._typing(chat_id)
        return "queued"

    def _unpaired(self, chat_id: int) -> str:
        """No account behind this chat: pairing instructions, or — for the chat of a person
        the administrator removed — that it no longer reaches anything."""
        if people.chat_was_removed(self.services, chat_id):
            self._say(chat_id, REMOVED)
            return "removed"
        self._say(chat_id, replies.UNPAIRED)
        return "unpaired"

    # --- Bot API, best effort --------------------------------------------------------------
    def _say(self, chat_id: int, text: str) -> None:
        try:
            self.bot.call(tg.send_message(chat_id, text))
        except TelegramError as exc:
            logger.warning("telegram: notice not delivered", extra={"error": str(exc)})

    def _typing(self, chat_id: int) -> None:
        try:
            self.bot.call(tg.send_chat_action(chat_id, "typing"))
        except TelegramError as exc:
            logger.info("telegram: typing not shown", extra={"error": str(exc)})


def received_name(found: ReceivedFile, message_id: int) -> str:
    """The name a file is listed under: the sender's own, or one saying what it is."""
    if found.file_name:
        return found.file_name
    extension = {"photo": ".jpg", "voice": ".ogg", "audio": ".mp3"}.get(found.kind, "")
    return f"{found.kind}-{message_id}{extension}"


_entry = entry(
    "telegram_webhook",
    correlation_paths.API_GATEWAY_HTTP,
    handle,
    on_crash=_response(500),
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point. The context goes to the idempotency layer, whose in-progress
    marker must expire with this invocation (so a retry after a timeout is not blocked)."""
    usable = context if hasattr(context, "get_remaining_time_in_millis") else None
    token = _lambda_context.set(usable)
    try:
        return _entry(event, context)
    finally:
        _lambda_context.reset(token)
