"""Signs of life in Telegram while the agent wakes.

On the web the status banner shows each start-up phase. In Telegram the webhook answers the
first message of a wake with "waking up…"; then nothing would happen for the ~15-20 s the
agent needs, because "typing…" (sendChatAction) lasts only ~5 s and the webhook Lambda
returns at once. So the supervisor repeats it, from its first start-up phase, in the chat
whose message woke it, until the bridge's reply takes over (the reply shows "typing…" itself
from the start of its turn).

Which chat: the control plane passes the wake reason to the task (`SOC_WAKE_REASON`); a
Telegram message wakes it as "telegram message", and a person has one linked chat
(`TelegramStore.link_of_user`). Nothing is shown for any other wake (a page opened, a
scheduled job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from serverless_openclaw.core.errors import StorageUnavailable, TelegramError
from serverless_openclaw.ports.stores import TelegramStore
from serverless_openclaw.telegram import bot_api as tg

log = logging.getLogger(__name__)

TELEGRAM_WAKE: Final = "telegram message"
"""The wake reason `app.services.submit_chat_job` gives for a Telegram message."""


class TypingWhileWaking:
    """Keeps "typing…" up in one chat until `handed_over()`/`stop()`, at most `limit` s."""

    def __init__(
        self,
        api: tg.AsyncTelegramApi,
        chat_id: int,
        *,
        interval: float = 4.0,
        limit: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.chat_id = chat_id
        self._api = api
        self._interval = interval
        self._limit = limit
        self._done = asyncio.Event()
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self) -> None:
        if self._task is None and not self._done.is_set():
            self._task = asyncio.create_task(self._run(), name="telegram-typing-while-waking")

    def handed_over(self) -> None:
        """The bridge's reply shows "typing…" from now on (sync: called from a sink factory)."""
        self._done.set()

    async def stop(self) -> None:
        self._done.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pause(self) -> None:
        if self._sleep is not None:
            await self._sleep(self._interval)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), self._interval)

    async def _run(self) -> None:
        rounds = max(1, int(self._limit / self._interval))
        for _ in range(rounds):
            if self._done.is_set():
                return
            try:
                await self._api.call(tg.send_chat_action(self.chat_id, "typing"))
                self.sent += 1
            except TelegramError as exc:  # cosmetic: never worth failing a start over
                log.debug("typing while waking refused: %s", exc)
            await self._pause()


async def typing_for_wake(
    reason: str | None,
    api: tg.AsyncTelegramApi | None,
    links: TelegramStore,
    user_id: str,
) -> TypingWhileWaking | None:
    """Started "typing…" for the chat whose message woke the agent, or None."""
    if reason != TELEGRAM_WAKE or api is None:
        return None
    try:
        link = await asyncio.to_thread(links.link_of_user, user_id)
    except StorageUnavailable as exc:
        log.warning("no typing while waking: the Telegram link could not be read (%s)", exc)
        return None
    if link is None:
        return None
    typing = TypingWhileWaking(api, link.chatId)
    typing.start()
    return typing
