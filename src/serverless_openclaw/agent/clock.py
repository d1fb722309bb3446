"""Time for the agent's loops, injectable so that unit tests drive it instead of sleeping.

`SystemClock` is the real one. `ManualClock` moves only when a test says so (`advance`):
`sleep()` parks the caller until the clock passes its deadline, and `now()` gives a wall-clock
time that moves with it, so it can also drive the memory adapters (`MemoryPorts(clock=
clock.now)`) — an inbox visibility timeout and a debounce then run on the same time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds, for intervals."""
        ...

    def now(self) -> datetime:
        """The wall-clock time (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock for tests: time stands still until `advance()`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._parked = asyncio.Event()

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), waiter))
        self._parked.set()
        await waiter

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, waiter in self._sleepers if not waiter.done())

    async def parked(self, count: int = 1, *, timeout: float = 5.0) -> None:
        """Until at least `count` tasks sleep on this clock (real time, bounded): a test
        waits for the code under test to reach its next sleep before moving time."""

        async def _wait() -> None:
            await _settle()  # sleeps just cancelled (a timer that lost a race) are gone
            while self.sleepers < count:
                self._parked.clear()
                await self._parked.wait()

        await asyncio.wait_for(_wait(), timeout)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own deadline, in order."""
        target = self._elapsed + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, waiter = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, deadline)
            if not waiter.done():
                waiter.set_result(None)
                await _settle()
        self._elapsed = target
        await _settle()


async def _settle(rounds: int = 5) -> None:
    """Let the tasks just woken run until they block again."""
    for _ in range(rounds):
        await asyncio.sleep(0)
