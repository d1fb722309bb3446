"""A reply growing in Telegram while the agent writes it.

The bridge drives one `ReplyStreamer` per turn:

    async with ReplyStreamer(api, chat_id) as reply:
        await reply.start()                  # "typing…", refreshed every ~4 s
        async for text_so_far in run:        # full text each time, not deltas
            await reply.update(text_so_far)  # never blocks on Telegram
        await reply.finish(final_text)       # the messages now show exactly the reply

`update` only records the newest text; a pump task shows it by editing one message, at most
once per `edit_interval` (Telegram allows about one message per second per chat), so a burst
of deltas becomes one edit. Past 4096 characters the reply rolls over into further messages.
`finish` shows the final text with retries: 429 waits `retry_after`, "message is not
modified" counts as done, HTML Telegram refuses is resent as plain text, a message the
person deleted is sent again. `fail` shows a readable error instead.

Pacing and retry waits go through the injected `clock`/`sleep`, so tests need no real waiting.
The typing refresh is a background timer on the event loop's own clock.

After a crash the same reply is written again by the next task. So that the person never reads
a cut-off copy beside the full one, the streamer reports the messages it shows (`on_shown`,
whenever that list changes; the agent keeps it as a `ShownReply` in the task-state row) and a
streamer started with `resume=` those ids takes them over: the first edit turns the cut-off
text into the new one, and messages the final text does not need are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self, TypeVar

from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import TelegramError
from serverless_openclaw.telegram import bot_api as tg
from serverless_openclaw.telegram.formatting import (
    MESSAGE_LIMIT,
    Chunk,
    plain_messages,
    to_messages,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

EMPTY_REPLY: Final = "(empty reply)"
ERROR_PREFIX: Final = "⚠️ "


UNKNOWN_CONTENT: Final = "\x00"
"""What a resumed message shows, as far as this streamer knows (never equal to a chunk, so
the first show edits it)."""


@dataclass(frozen=True)
class ShownReply:
    """The messages that show one job's reply in one chat, as last sent."""

    job_id: str
    chat_id: int
    message_ids: tuple[int, ...]

    def encode(self) -> str:
        return json.dumps(
            {"job": self.job_id, "chat": self.chat_id, "messages": list(self.message_ids)},
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> ShownReply | None:
        """None for nothing, or for anything that is not one (a damaged row shows nothing)."""
        if not text:
            return None
        try:
            raw = json.loads(text)
            job, chat, messages = raw["job"], raw["chat"], raw["messages"]
        except (ValueError, TypeError, KeyError):
            return None
        if (
            not isinstance(job, str)
            or not isinstance(chat, int)
            or not isinstance(messages, list)
            or not all(isinstance(m, int) and not isinstance(m, bool) for m in messages)
        ):
            return None
        return cls(job, chat, tuple(messages))

    def resume_for(self, job_id: str, chat_id: int) -> tuple[int, ...]:
        """The ids a reply to `job_id` in `chat_id` takes over (none for another job)."""
        return self.message_ids if (self.job_id, self.chat_id) == (job_id, chat_id) else ()


@dataclass
class _Sent:
    message_id: int
    content: str
    """What the message shows now, in the form we sent it (HTML or plain)."""


class ReplyStreamer:
    """One reply in one chat. Not reusable; not safe to share between tasks."""

    def __init__(
        self,
        api: tg.AsyncTelegramApi,
        chat_id: int,
        *,
        reply_to_message_id: int | None = None,
        edit_interval: float = 1.0,
        typing_interval: float = 4.0,
        limit: int = MESSAGE_LIMIT,
        max_attempts: int = 6,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        resume: Sequence[int] = (),
        on_shown: Callable[[list[int]], Awaitable[None]] | None = None,
    ) -> None:
        """`resume`: ids of messages an earlier attempt at this reply left in the chat, taken
        over in order. `on_shown(ids)`: awaited whenever the messages showing the reply
        change (a message sent, or extra ones deleted at the end); it must not raise."""
        self._api = api
        self._chat_id = chat_id
        self._reply_to = reply_to_message_id
        self._edit_interval = edit_interval
        self._typing_interval = typing_interval
        self._limit = limit
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff(base=0.5, cap=10.0)
        self._clock = clock
        self._sleep = sleep

        self._latest = ""
        self._final: str | None = None
        self._final_is_error = False
        self._plain = False
        """Telegram refused our HTML once: the rest of this reply goes as plain text."""
        self._sent: list[_Sent] = [_Sent(mid, UNKNOWN_CONTENT) for mid in resume]
        self._on_shown = on_shown
        self._next_slot = float("-inf")
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._done = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None

    # --- the interface the bridge uses --------------------------------------------------------
    @property
    def message_ids(self) -> list[int]:
        return [sent.message_id for sent in self._sent]

    async def start(self) -> None:
        """Show "typing…" now and keep it up until the reply is finished."""
        if self._pump is not None:
            return
        self._pump = asyncio.create_task(self._run(), name=f"telegram-reply:{self._chat_id}")
        self._typing = asyncio.create_task(self._keep_typing(), name="telegram-typing")

    async def update(self, text_so_far: str) -> None:
        """The reply so far (the whole text, not a delta). Returns at once."""
        if self._final is not None:
            return
        await self.start()
        self._raise_if_pump_failed()
        self._latest = text_so_far
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until the newest text is shown (or its showing failed and was given up)."""
        await self.start()
        while not self._idle.is_set():
            self._raise_if_pump_failed()
            idle = asyncio.create_task(self._idle.wait())
            assert self._pump is not None
            await asyncio.wait({idle, self._pump}, return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()
            if self._pump.done():
                self._raise_if_pump_failed()
                return

    async def finish(self, final_text: str) -> list[int]:
        """Show exactly `final_text`; returns the ids of the messages that carry it."""
        return await self._end(final_text, is_error=False)

    async def fail(self, message: str) -> list[int]:
        """The turn failed: whatever was shown stays, and a readable error follows it."""
        return await self._end(message, is_error=True)

    async def aclose(self) -> None:
        """Stop without showing anything more (cancellation, shutdown)."""
        self._done.set()
        for task in (self._pump, self._typing):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._pump, self._typing):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await task

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- internals ---------------------------------------------------------------------------
    async def _end(self, text: str, *, is_error: bool) -> list[int]:
        if self._final is not None:
            raise RuntimeError("this reply is already finished")
        await self.start()
        # Typing stops first, so that no "typing…" shows up after the final message.
        self._done.set()
        if self._typing is not None:
            await self._typing
        self._final = text
        self._final_is_error = is_error
        self._wake.set()
        assert self._pump is not None
        try:
            await self._pump
        except BaseException:
            await self.aclose()
            raise
        return self.message_ids

    def _raise_if_pump_failed(self) -> None:
        if self._pump is not None and self._pump.done() and not self._pump.cancelled():
            error = self._pump.exception()
            if error is not None:
                raise error

    async def _keep_typing(self) -> None:
        while not self._done.is_set():
            try:
                await self._api.call(tg.send_chat_action(self._chat_id, "typing"))
            except TelegramError as exc:  # cosmetic: never worth failing a reply over
                log.debug("typing action refused: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), timeout=self._typing_interval)

    def _finishing(self) -> bool:
        # A method, not an inline test: `finish` changes the field while the pump awaits.
        return self._final is not None

    async def _run(self) -> None:
        while not self._finishing():
            if not self._wake.is_set():
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            if self._finishing():
                break
            await self._wait_for_slot()
            if self._finishing():
                break
            await self._show_interim(self._latest)
        final = self._final or ""
        if self._final_is_error:
            notice = ERROR_PREFIX + final
            # Whatever part of the reply arrived stays; the error follows as its own message.
            await self._with_retries(
                lambda: self._chunks(self._latest) + plain_messages(notice, self._limit)
            )
        else:
            await self._with_retries(
                lambda: self._chunks(final) or plain_messages(EMPTY_REPLY, self._limit)
            )

    async def _wait_for_slot(self) -> None:
        delay = self._next_slot - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _chunks(self, text: str) -> list[Chunk]:
        return plain_messages(text, self._limit) if self._plain else to_messages(text, self._limit)

    async def _show_interim(self, text: str) -> None:
        """Best effort: a failure here only means the person sees this version a bit later."""
        try:
            await self._show(self._chunks(text), final=False)
        except TelegramError as exc:
            if tg.is_parse_error(exc):
                self._plain = True
                self._wake.set()
            elif tg.is_retryable(exc):
                if exc.retry_after_s is None:
                    self._next_slot = max(self._next_slot, self._clock() + self._backoff.next())
                self._wake.set()
            else:
                log.warning("interim reply update refused: %s", exc)
        else:
            self._backoff.reset()

    async def _with_retries(self, chunks: Callable[[], list[Chunk]]) -> None:
        """Show the final chunks; `chunks` is re-evaluated because plain mode may switch on."""
        for number in range(1, self._max_attempts + 1):
            try:
                await self._show(chunks(), final=True)
            except TelegramError as exc:
                if tg.is_parse_error(exc) and not self._plain:
                    self._plain = True
                    continue
                if not tg.is_retryable(exc) or number == self._max_attempts:
                    raise
                if exc.retry_after_s is None:
                    self._next_slot = max(self._next_slot, self._clock() + self._backoff.next())
            else:
                self._backoff.reset()
                return

    async def _show(self, chunks: list[Chunk], *, final: bool) -> None:
        """Make the chat show `chunks`: edit what changed, send what is new and, at the end,
        delete messages the final text no longer needs. Safe to repeat after a failure."""
        parse_mode: tg.ParseMode | None = None if self._plain else "HTML"
        for index, chunk in enumerate(chunks):
            content = chunk.text if self._plain else chunk.html
            if index < len(self._sent):
                sent = self._sent[index]
                if sent.content == content:
                    continue
                try:
                    await self._paced(
                        tg.edit_message_text(
                            self._chat_id, sent.message_id, content, parse_mode=parse_mode
                        )
                    )
                except TelegramError as exc:
                    if tg.is_message_gone(exc):
                        # The person deleted it: the words go out again as a new message.
                        message = await self._paced(
                            tg.send_message(self._chat_id, content, parse_mode=parse_mode)
                        )
                        sent.message_id = message.message_id
                        await self._report()
                    elif not tg.is_not_modified(exc):
                        raise
                sent.content = content
            else:
                message = await self._paced(
                    tg.send_message(
                        self._chat_id,
                        content,
                        parse_mode=parse_mode,
                        reply_to_message_id=self._reply_to if index == 0 else None,
                    )
                )
                self._sent.append(_Sent(message.message_id, content))
                await self._report()
        if final and len(self._sent) > len(chunks):
            while len(self._sent) > len(chunks):
                extra = self._sent[-1]
                with contextlib.suppress(TelegramError):
                    await self._paced(tg.delete_message(self._chat_id, extra.message_id))
                self._sent.pop()
            await self._report()

    async def _report(self) -> None:
        if self._on_shown is not None:
            await self._on_shown(self.message_ids)

    async def _paced(self, call: tg.ApiCall[T]) -> T:
        """One message-changing call, no sooner than `edit_interval` after the previous one
        nor before Telegram's retry_after has passed."""
        await self._wait_for_slot()
        try:
            return await self._api.call(call)
        except TelegramError as exc:
            if exc.retry_after_s is not None:
                self._next_slot = self._clock() + exc.retry_after_s
            raise
        finally:
            self._next_slot = max(self._next_slot, self._clock() + self._edit_interval)
