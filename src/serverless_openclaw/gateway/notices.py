"""Messages from the system to the person, outside any turn (e.g. "I skipped a scheduled
wake-up", "your message could not be answered"): stored in the conversation, pushed to open
browsers and sent to the linked Telegram chat — the same three places the agent's own
messages go."""

from __future__ import annotations

import hashlib
from datetime import datetime

from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.frames import ReplyError, StreamEndFrame, StreamStartFrame
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import ConversationDeleted, OpenClawError, TelegramError
from serverless_openclaw.gateway.observability import logger
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.streaming import ERROR_PREFIX, ShownReply


def notice_id(key: str) -> str:
    return "notice-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def notify(services: Services, user_id: str, text: str, *, key: str, at: datetime) -> bool:
    """Deliver once per `key` (idempotent: the watchdog may run twice); True if new."""
    message = Message(
        id=notice_id(key),
        conversationId=MAIN_CONVERSATION_ID,
        role="assistant",
        text=text,
        createdAt=at,
        source="agent",
        proactive=True,
    )
    return _deliver(services, user_id, message, frame_id=message.id)


def unanswered_text(job: ChatJob) -> str:
    quoted = job.text if len(job.text) <= 80 else job.text[:79] + "…"
    return (
        f'Sorry, I could not answer your message "{quoted}": it failed several times. '
        "Please send it again (or rephrase it)."
    )


def notify_unanswered(services: Services, job: ChatJob, *, at: datetime) -> bool:
    """A job that exhausted its deliveries: the person gets an error reply saying so, listed
    under their message (the reply id the agent would have used, so a late answer of the
    agent and this notice never both appear), with "send again"; True if new. In Telegram
    the message that showed a reply cut off by the crash, if any, becomes this notice."""
    text = unanswered_text(job)
    message = Message(
        id=f"{job.jobId}:r",
        conversationId=job.conversationId,
        role="assistant",
        text=text,
        createdAt=at,
        source="agent",
        inReplyTo=job.jobId,
        error=ReplyError(code="unanswered", message=text, retryable=True),
    )
    try:
        return _deliver(services, job.userId, message, frame_id=job.jobId, job=job)
    except ConversationDeleted:
        return False  # deleted meanwhile: nobody is waiting for an answer there


def _deliver(
    services: Services,
    user_id: str,
    message: Message,
    *,
    frame_id: str,
    job: ChatJob | None = None,
) -> bool:
    if not services.conversations.put_message(user_id, message):
        return False
    broadcaster = services.broadcaster
    if broadcaster is not None:
        try:
            broadcaster.send(
                user_id,
                StreamStartFrame(
                    id=frame_id, conversationId=message.conversationId, proactive=message.proactive
                ),
            )
            broadcaster.send(
                user_id, StreamEndFrame(id=frame_id, text=message.text, error=message.error)
            )
        except OpenClawError as exc:
            logger.warning("notice push failed", extra={"error": str(exc)})
    text = ERROR_PREFIX + message.text if message.error is not None else message.text
    _telegram(services, user_id, text, job=job)
    return True


def _telegram(services: Services, user_id: str, text: str, *, job: ChatJob | None) -> None:
    from serverless_openclaw.telegram.secrets import resolve_bot_token

    try:
        link = services.telegram.link_of_user(user_id)
        if link is None:
            return
        token = resolve_bot_token(services.settings.telegram, services.secrets)
        if token is None:
            return
        bot = services.telegram_bots.for_token(token)
        if job is not None and _replace_cut_off(services, bot, job, link.chatId, text):
            return
        bot.call(tg.send_message(link.chatId, text))
    except OpenClawError as exc:
        logger.warning("notice to Telegram failed", extra={"error": str(exc)})


def _replace_cut_off(
    services: Services, bot: tg.SyncTelegramApi, job: ChatJob, chat_id: int, text: str
) -> bool:
    """Turn the messages that showed the job's reply when its task died into `text`; False
    when there were none (or they are gone): the notice is then sent as a new message."""
    shown = ShownReply.decode(services.task_state.get(job.userId).telegram_reply)
    ids = shown.resume_for(job.jobId, chat_id) if shown is not None else ()
    if not ids:
        return False
    try:
        bot.call(tg.edit_message_text(chat_id, ids[0], text))
    except TelegramError as exc:
        if tg.is_not_modified(exc):
            return True
        logger.info("cut-off reply not edited", extra={"error": str(exc)})
        return False
    for extra in ids[1:]:
        try:
            bot.call(tg.delete_message(chat_id, extra))
        except TelegramError as exc:
            logger.info("cut-off reply part not deleted", extra={"error": str(exc)})
    return True
