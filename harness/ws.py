"""A browser stand-in on the stack's WebSocket: every frame kept in order, with its arrival.

`frames` holds the frames as plain dicts (what tests index and compare) and `arrivals` the
`time.monotonic()` at which each arrived, index for index (what benchmarks subtract). The
waits come in two kinds: `wait_for`/`reply_to` return the frame itself, `wait_for_frame` and
the turn's three moments (`ack`, `first_chunk`, `reply_end`) return a `Frame` that carries
the arrival time too. `time.monotonic()` is one clock for every process on Linux, so these
times compare with the ones an agent reports on its /status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Frame:
    """One received frame and when it arrived."""

    at: float
    """time.monotonic() when it arrived."""
    data: dict[str, Any]


class WsClient:
    """One WebSocket to the API Gateway emulator, read in the background from `async with`."""

    def __init__(self, url: str, *, open_timeout: float = 60) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.frames: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.closed = False
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> WsClient:
        self._socket = await websockets.connect(
            self.url, open_timeout=self.open_timeout, max_size=None
        )
        self._reader = asyncio.create_task(self._read(self._socket), name="harness-ws-reader")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                # The time first: json.loads of a long frame must not count as transit.
                arrived = time.monotonic()
                self.frames.append(json.loads(raw))
                self.arrivals.append(arrived)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def send(self, frame: dict[str, Any]) -> float:
        """Send a frame; returns time.monotonic() just before it left."""
        assert self._socket is not None, "use `async with` first"
        sent = time.monotonic()
        await self._socket.send(json.dumps(frame))
        return sent

    # --- waiting ---------------------------------------------------------------------------
    async def _index_of(self, predicate: Predicate, timeout: float, after: int) -> int:
        """Index of the first frame from `after` on that matches; TimeoutError when none
        came in time, ConnectionError when the socket closed without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = after
        while True:
            frames = self.frames
            for index in range(checked, len(frames)):
                if predicate(frames[index]):
                    return index
            checked = max(checked, len(frames))
            if self.closed:
                raise ConnectionError(f"socket closed; last frames: {self.frames[-5:]}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame in {timeout} s; last: {self.frames[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for(
        self, predicate: Predicate, timeout: float = 120, *, after: int = 0
    ) -> dict[str, Any]:
        """The first frame (from index `after`) for which predicate(frame) is true."""
        return self.frames[await self._index_of(predicate, timeout, after)]

    async def wait_for_frame(
        self, predicate: Predicate, timeout: float = 120, *, after: int = 0
    ) -> Frame:
        """As `wait_for`, with the frame's arrival time."""
        index = await self._index_of(predicate, timeout, after)
        return Frame(self.arrivals[index], self.frames[index])

    async def reply_to(
        self, message_id: str, timeout: float = 180, *, after: int = 0
    ) -> dict[str, Any]:
        """The stream_end of the reply to `message_id` (its whole text)."""
        return await self.wait_for(_is("stream_end", message_id), timeout, after=after)

    # --- the moments of one turn, timed (what the benchmarks measure) ----------------------
    async def ack(self, message_id: str, timeout: float = 120, *, after: int = 0) -> Frame:
        """The control plane's answer to a sent message: its ack, or an error frame."""
        return await self.wait_for_frame(
            lambda f: f.get("id") == message_id and f.get("type") in ("ack", "error"),
            timeout,
            after=after,
        )

    async def first_chunk(self, message_id: str, timeout: float = 240, *, after: int = 0) -> Frame:
        return await self.wait_for_frame(_is("stream_chunk", message_id), timeout, after=after)

    async def reply_end(self, message_id: str, timeout: float = 240, *, after: int = 0) -> Frame:
        return await self.wait_for_frame(_is("stream_end", message_id), timeout, after=after)

    # --- what arrived ----------------------------------------------------------------------
    def chunks(self, message_id: str) -> list[str]:
        """The text of each stream_chunk of the reply to `message_id`, in order."""
        return [
            str(f["text"])
            for f in self.frames
            if f.get("type") == "stream_chunk" and f.get("id") == message_id
        ]

    def reply_frames(self, message_id: str) -> list[Frame]:
        """Every frame of the reply to `message_id` (start, chunks, end), timed: each one is
        a post to @connections."""
        return [
            Frame(at, f)
            for f, at in zip(self.frames, self.arrivals, strict=True)
            if f.get("id") == message_id
            and f.get("type") in ("stream_start", "stream_chunk", "stream_end")
        ]

    async def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader


def _is(kind: str, message_id: str) -> Predicate:
    return lambda f: f.get("type") == kind and f.get("id") == message_id
