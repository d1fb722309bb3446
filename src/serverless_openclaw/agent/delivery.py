"""Where a reply goes while it is being written: the web (API Gateway @connections) and
Telegram. The bridge drives one sink per turn: `start`, `update(text so far)`, `finish`.

Web replies are coalesced: at most one @connections post per `interval` (100 ms), plus start
and end — not one post per delta, which is what made the public implementation slow and
expensive. The connection list is read once per reply and refreshed every few seconds, so a
browser that reconnects mid-reply still gets the rest and the final text.

`ReplySinks` makes the sinks: one per turn (the person's own channel, plus the web) and one per
proactive message (the web and the linked Telegram chat, looked up when it is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.frames import (
    ReplyError,
    ServerFrame,
    StreamChunkFrame,
    StreamEndFrame,
    StreamStartFrame,
)
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.core.errors import StorageUnavailable, TelegramError
from serverless_openclaw.ports.stores import ConnectionStore, TelegramStore
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.streaming import ReplyStreamer

from .clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class ReplySink(Protocol):
    async def start(self) -> None: ...
    async def update(self, text_so_far: str) -> None: ...
    async def finish(
        self, text: str, *, aborted: bool = False, error: ReplyError | None = None
    ) -> None:
        """The whole reply; with `error`, `text` says why there is no answer."""
        ...

    async def aclose(self) -> None: ...


class WebReply:
    """Streams one reply to every open WebSocket connection of a user."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        connections: ConnectionStore,
        *,
        user_id: str,
        message_id: str,
        conversation_id: str,
        proactive: bool = False,
        interval: float = 0.1,
        refresh_every: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._broadcaster = broadcaster
        self._connections = connections
        self._user_id = user_id
        self._message_id = message_id
        self._conversation_id = conversation_id
        self._proactive = proactive
        self._interval = interval
        self._refresh_every = refresh_every
        self._clock = clock
        self._targets: list[str] = []
        self._targets_at = float("-inf")
        self._latest = ""
        self._sent = ""
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.posts = 0

    async def _connection_ids(self) -> list[str]:
        if self._clock.monotonic() - self._targets_at >= self._refresh_every:
            try:
                records = await asyncio.to_thread(self._connections.for_user, self._user_id)
                fresh = [r.connection_id for r in records]
                new = [c for c in fresh if c not in self._targets]
                self._targets = fresh
                self._targets_at = self._clock.monotonic()
                if new and self._sent:
                    # A browser that (re)connected mid-reply: show it the reply from the top.
                    await self._post(new, self._start_frame())
                    await self._post(new, StreamChunkFrame(id=self._message_id, text=self._sent))
            except StorageUnavailable as exc:
                log.warning("could not list connections: %s", exc)
        return self._targets

    def _start_frame(self) -> StreamStartFrame:
        return StreamStartFrame(
            id=self._message_id, conversationId=self._conversation_id, proactive=self._proactive
        )

    async def _post(self, targets: Sequence[str], frame: ServerFrame) -> None:
        for connection_id in list(targets):
            self.posts += 1
            try:
                delivered = await asyncio.to_thread(self._broadcaster.send_to, connection_id, frame)
            except StorageUnavailable as exc:
                log.warning("post to a connection failed: %s", exc)
                continue
            if not delivered:
                with contextlib.suppress(ValueError):
                    self._targets.remove(connection_id)

    async def start(self) -> None:
        await self._post(await self._connection_ids(), self._start_frame())
        self._flusher = asyncio.create_task(self._flush_loop(), name="web-reply-flusher")

    async def update(self, text_so_far: str) -> None:
        self._latest = text_so_far
        self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = self._clock.monotonic()
            # Targets first: a connection found now is caught up with what was sent so far,
            # then gets this chunk like everyone else (never the chunk twice).
            targets = await self._connection_ids()
            latest = self._latest
            if latest.startswith(self._sent) and len(latest) > len(self._sent):
                chunk = latest[len(self._sent) :]
                self._sent = latest
                await self._post(targets, StreamChunkFrame(id=self._message_id, text=chunk))
            # A rewrite of earlier text is not sent as chunks: stream_end carries the truth.
            remaining = self._interval - (self._clock.monotonic() - started)
            if remaining > 0:
                await self._clock.sleep(remaining)

    async def finish(
        self, text: str, *, aborted: bool = False, error: ReplyError | None = None
    ) -> None:
        await self._stop_flusher()
        await self._post(
            await self._connection_ids(),
            StreamEndFrame(id=self._message_id, text=text, aborted=aborted, error=error),
        )

    async def _stop_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None

    async def aclose(self) -> None:
        await self._stop_flusher()


class TelegramReply:
    """Adapts the Telegram package's ReplyStreamer (typing, paced edits, 4096 splits)."""

    def __init__(
        self,
        api: tg.AsyncTelegramApi,
        chat_id: int,
        reply_to: int | None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._streamer = ReplyStreamer(
            api, chat_id, reply_to_message_id=reply_to, clock=clock.monotonic, sleep=clock.sleep
        )

    async def start(self) -> None:
        await self._streamer.start()

    async def update(self, text_so_far: str) -> None:
        await self._streamer.update(text_so_far)

    async def finish(
        self, text: str, *, aborted: bool = False, error: ReplyError | None = None
    ) -> None:
        try:
            await self._streamer.finish(text + ("\n\n(stopped)" if aborted else ""))
        except TelegramError as exc:
            log.warning("telegram reply could not be completed: %s", exc)

    async def aclose(self) -> None:
        await self._streamer.aclose()


class LinkedTelegramReply:
    """A proactive message for the person's linked Telegram chat, if they linked one (read
    when the message goes out, in a worker thread)."""

    def __init__(
        self,
        api: tg.AsyncTelegramApi,
        links: TelegramStore,
        user_id: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._api = api
        self._links = links
        self._user_id = user_id
        self._clock = clock
        self._reply: TelegramReply | None = None

    async def start(self) -> None:
        try:
            link = await asyncio.to_thread(self._links.link_of_user, self._user_id)
        except StorageUnavailable as exc:
            log.warning("could not read the Telegram link: %s", exc)
            return
        if link is not None:
            self._reply = TelegramReply(self._api, link.chatId, None, clock=self._clock)
            await self._reply.start()

    async def update(self, text_so_far: str) -> None:
        if self._reply is not None:
            await self._reply.update(text_so_far)

    async def finish(
        self, text: str, *, aborted: bool = False, error: ReplyError | None = None
    ) -> None:
        if self._reply is not None:
            await self._reply.finish(text, aborted=aborted, error=error)

    async def aclose(self) -> None:
        if self._reply is not None:
            await self._reply.aclose()


class FanOut:
    """Several sinks as one; a failing sink is logged and does not stop the others."""

    def __init__(self, sinks: Sequence[ReplySink]) -> None:
        self._sinks = list(sinks)

    async def _each(self, name: str, *args: object, **kwargs: object) -> None:
        for sink in self._sinks:
            try:
                await getattr(sink, name)(*args, **kwargs)
            except (StorageUnavailable, TelegramError) as exc:
                log.warning("%s on %s failed: %s", name, type(sink).__name__, exc)

    async def start(self) -> None:
        await self._each("start")

    async def update(self, text_so_far: str) -> None:
        await self._each("update", text_so_far)

    async def finish(
        self, text: str, *, aborted: bool = False, error: ReplyError | None = None
    ) -> None:
        await self._each("finish", text, aborted=aborted, error=error)

    async def aclose(self) -> None:
        await self._each("aclose")


class ReplySinks:
    """Where one user's replies go (the supervisor makes one; the bridge and the scheduler
    call it per reply)."""

    def __init__(
        self,
        *,
        user_id: str,
        connections: ConnectionStore,
        broadcaster: Broadcaster | None,
        telegram: tg.AsyncTelegramApi | None,
        telegram_links: TelegramStore,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._user_id = user_id
        self._connections = connections
        self._broadcaster = broadcaster
        self._telegram = telegram
        self._links = telegram_links
        self._clock = clock

    def _web(self, message_id: str, conversation_id: str, *, proactive: bool) -> WebReply | None:
        if self._broadcaster is None:
            return None
        return WebReply(
            self._broadcaster,
            self._connections,
            user_id=self._user_id,
            message_id=message_id,
            conversation_id=conversation_id,
            proactive=proactive,
            clock=self._clock,
        )

    def for_job(self, job: ChatJob) -> ReplySink:
        """A turn's reply: every open browser, and the Telegram chat it came from."""
        sinks: list[ReplySink] = []
        web = self._web(job.jobId, job.conversationId, proactive=False)
        if web is not None:
            sinks.append(web)
        if job.replyTo.kind == "telegram" and self._telegram is not None:
            sinks.append(
                TelegramReply(
                    self._telegram, job.replyTo.chatId, job.replyTo.messageId, clock=self._clock
                )
            )
        return FanOut(sinks)

    def proactive(self, message_id: str) -> ReplySink:
        """A message nobody asked for (a reminder): every open browser, the linked chat."""
        sinks: list[ReplySink] = []
        web = self._web(message_id, MAIN_CONVERSATION_ID, proactive=True)
        if web is not None:
            sinks.append(web)
        if self._telegram is not None:
            sinks.append(
                LinkedTelegramReply(self._telegram, self._links, self._user_id, clock=self._clock)
            )
        return FanOut(sinks)
