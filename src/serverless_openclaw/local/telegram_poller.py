"""Telegram for the dev stack with a real bot and no public URL: poll, then play webhook.

Decision D3 makes Telegram webhook-only, and a laptop has no HTTPS URL Telegram can reach.
So the dev stack deletes the bot's webhook and long-polls `getUpdates`, wrapping each update
in the API Gateway (HTTP API v2) event Telegram's webhook call would have produced, secret
header included, and hands it to the very same `telegram_webhook.handler`. The handler cannot
tell the difference, which is the point.

Offsets: an update is confirmed (the next poll's `offset`) once the handler answered 2xx, or
after `handler_attempts` tries (a poisonous update must not block the bot forever). The
handler's own idempotency makes a redelivery after a restart harmless.
Errors: a wrong token (401/404) stops the poller; anything else waits a jittered, capped
delay that resets after a success. `stop` ends a long poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.telegram import bot_api as tg

from .lambda_runtime import LambdaContext

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name

WebhookHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def webhook_event(body: str, secret: str | None, *, path: str = WEBHOOK_PATH) -> dict[str, Any]:
    """The HTTP API (payload v2) event of Telegram POSTing `body` to our webhook."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body.encode())),
        "host": "localhost",
        "user-agent": "serverless-openclaw telegram poller",
    }
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers["user-agent"],
            },
            "requestId": request_id,
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


class TelegramPoller:
    def __init__(
        self,
        api: tg.AsyncTelegramApi,
        handler: WebhookHandler,
        *,
        secret: str,
        poll_timeout: int = 25,
        allowed_updates: Sequence[str] = ("message", "edited_message"),
        handler_attempts: int = 3,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api = api
        self._handler = handler
        self._secret = secret
        self._poll_timeout = poll_timeout
        self._allowed = tuple(allowed_updates)
        self._handler_attempts = handler_attempts
        self._backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._sleep = sleep
        self.offset: int | None = None
        """The first update not yet handed over (Telegram's `offset`)."""
        self.delivered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set. Raises `TelegramError` only for a token Telegram refuses."""
        while not stop.is_set():
            try:
                await self._api.call(tg.delete_webhook(drop_pending_updates=False))
                break
            except TelegramError as exc:
                await self._failed(exc, stop)
        while not stop.is_set():
            try:
                updates = await self._poll(stop)
            except TelegramError as exc:
                await self._failed(exc, stop)
                continue
            if updates is None:  # stopped during the poll
                break
            self._backoff.reset()
            for update in updates:
                await self._hand_over(update, stop)
        await self._confirm()

    async def _poll(self, stop: asyncio.Event) -> list[dict[str, Any]] | None:
        call = tg.get_updates_raw(
            offset=self.offset, timeout=self._poll_timeout, allowed_updates=self._allowed
        )
        poll = asyncio.create_task(self._api.call(call), name="telegram-getUpdates")
        if not await _until_done_or_stopped(poll, stop):
            return None
        return poll.result()

    async def _hand_over(self, update: dict[str, Any], stop: asyncio.Event) -> None:
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            return
        body = json.dumps(update, separators=(",", ":"), ensure_ascii=False)
        for attempt in range(1, self._handler_attempts + 1):
            event = webhook_event(body, self._secret)
            context = LambdaContext("telegram_webhook")
            answer = await asyncio.to_thread(self._handler, event, context)
            status = int(answer.get("statusCode", 500))
            if 200 <= status < 300:
                self.delivered += 1
                break
            if status == 401:
                raise TelegramError("the webhook handler refused the poller's secret")
            if status < 500 or attempt == self._handler_attempts or stop.is_set():
                log.error("telegram update %s dropped after status %s", update_id, status)
                break
            await self._sleep(self._backoff.next())
        self.offset = update_id + 1

    async def _failed(self, exc: TelegramError, stop: asyncio.Event) -> None:
        if exc.status in (401, 404):
            raise exc  # the bot token is wrong: polling again will not fix it
        if exc.status == 409:
            # Someone set a webhook again (another dev stack, `telegram setup`): take over.
            with contextlib.suppress(TelegramError):
                await self._api.call(tg.delete_webhook(drop_pending_updates=False))
        delay = exc.retry_after_s if exc.retry_after_s is not None else self._backoff.next()
        log.warning("telegram polling failed (%s); retrying in %.1f s", exc, delay)
        await _until_done_or_stopped(asyncio.ensure_future(self._sleep(delay)), stop)

    async def _confirm(self) -> None:
        """Tell Telegram what we handled, so a restart does not see it again."""
        if self.offset is None:
            return
        with contextlib.suppress(TelegramError):
            await self._api.call(tg.get_updates_raw(offset=self.offset, limit=1, timeout=0))


async def _until_done_or_stopped(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for `work` unless `stop` comes first (then `work` is cancelled). True = done;
    its result or exception is left in `work`."""
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not work.done():
            work.cancel()
        stopped.cancel()
        await asyncio.gather(work, stopped, return_exceptions=True)
    return not work.cancelled()
