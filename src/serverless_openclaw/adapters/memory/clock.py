"""Time for the adapters that keep their own: the real clock, and one a test moves by hand.

Everything in the memory and embedded families that expires (visibility timeouts, the dedupe
window, counters, markers, pairing codes, connections) asks an injected `Clock`, so a test
moves a `FakeClock` forward instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from serverless_openclaw.adapters.store_rules import Clock, utc_now

__all__ = ["Clock", "FakeClock", "utc_now"]


class FakeClock:
    """A clock that stands still until `advance` moves it (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward by `seconds` (and/or `timedelta` keywords: minutes=, hours=, ...)."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment
