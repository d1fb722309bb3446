"""Retry delays: a jittered, capped exponential generator that restarts after a success.

Callers pair it with a classifier (is this error worth retrying?) and pass `base=0` in tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays base, 2*base, 4*base ... capped at `cap`, each with full jitter in [d/2, d].

    `next()` gives the next delay; `reset()` after a success starts again from `base`.
    `attempts` counts delays handed out since the last reset.
    """

    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * self.factor**self.attempts)
        self.attempts += 1
        if self.jitter and delay > 0:
            delay = self.rng.uniform(delay / 2, delay)
        return delay

    def reset(self) -> None:
        self.attempts = 0

    def __iter__(self) -> Iterator[float]:
        while True:
            yield self.next()
