"""Which runs are busy in which session, as the gateway's events tell it.

OpenClaw runs turns the bridge did not start: after a crash it resumes an interrupted turn
by itself (main-session restart recovery), and scheduled jobs run in the main session. A
`chat.send` that lands in a session while such a run is busy is folded into it and ends at
once with an empty final, so the bridge waits for the session to be quiet before it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

_ENDED_CHAT_STATES: Final = frozenset({"final", "aborted", "error"})
_ENDED_PHASES: Final = frozenset({"end", "error"})
_REMEMBERED_ENDINGS: Final = 512


class SessionActivity:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._busy: dict[str, set[str]] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        """Runs seen ending: a late event of theirs (a chat delta after the lifecycle end,
        a `finishing` phase after the final) must not mark them busy again, for ever."""
        self._last_change: dict[str, float] = {}
        self._changed = asyncio.Event()

    def observe(self, event: str, payload: Any) -> None:
        """Feed one gateway event (`chat` or `agent`); others are ignored."""
        if event not in ("chat", "agent") or not isinstance(payload, dict):
            return
        session, run = payload.get("sessionKey"), payload.get("runId")
        if not isinstance(session, str) or not isinstance(run, str):
            return
        if event == "chat":
            ended = payload.get("state") in _ENDED_CHAT_STATES
        else:
            data = payload.get("data")
            phase = data.get("phase") if isinstance(data, dict) else None
            if payload.get("stream") != "lifecycle" or not isinstance(phase, str):
                return
            ended = phase in _ENDED_PHASES
        runs = self._busy.setdefault(session, set())
        if ended:
            runs.discard(run)
            self._ended[run] = None
            while len(self._ended) > _REMEMBERED_ENDINGS:
                self._ended.popitem(last=False)
        elif run in self._ended:
            return
        elif run not in runs:
            runs.add(run)
        else:
            return
        self._last_change[session] = self._clock()
        self._changed.set()

    async def wait_change(self, timeout: float) -> None:
        """Until a run starts or ends in any session, or `timeout` passed."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(timeout, 0.01))

    def reset(self) -> None:
        """The connection dropped: whatever ran died with the gateway or is re-announced."""
        self._busy.clear()
        self._ended.clear()  # run ids (idempotency keys) may be used again by the new gateway
        self._changed.set()

    def busy_runs(self, session: str) -> frozenset[str]:
        return frozenset(self._busy.get(session, ()))

    async def wait_quiet(self, session: str, *, settle_s: float = 0.0, timeout: float) -> bool:
        """Until no run is busy in `session` and none started or ended for `settle_s`.

        False when `timeout` passed first (the caller goes on: waiting is a courtesy).
        """
        deadline = self._clock() + timeout
        while True:
            quiet_for = self._clock() - self._last_change.get(session, float("-inf"))
            if not self._busy.get(session) and quiet_for >= settle_s:
                return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._changed.clear()
            wait = remaining if self._busy.get(session) else min(remaining, settle_s - quiet_for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(wait, 0.01))
