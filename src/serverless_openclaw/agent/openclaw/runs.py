"""Chat runs and the routing of gateway events to them: plain code, no socket.

The real client (`client.py`) and the fake gateway (`fake.py`) both feed the gateway's event
frames into one `RunRouter`, so what the bridge sees of a run — coalesced deltas, the final
text, `RunFailed`, `GatewayDisconnected` — comes from the same code whichever gateway is
behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

from serverless_openclaw.core.errors import GatewayError, GatewayProtocolError, RunFailed

from .activity import SessionActivity
from .protocol import ChatEvent, EventFrame, TextAssembler, TextUpdate, parse_chat_event

log = logging.getLogger(__name__)

_ORPHAN_RUNS: Final = 64
_ORPHAN_EVENTS: Final = 512


@dataclass(frozen=True)
class RunStatus:
    phase: str


@dataclass(frozen=True)
class RunDelta:
    update: TextUpdate


@dataclass(frozen=True)
class RunEnd:
    text: str
    aborted: bool
    stop_reason: str | None = None


RunEvent = RunStatus | RunDelta | RunEnd
EventListener = Callable[[EventFrame], None]


class ChatRun:
    """One `chat.send` run. Iterate for status/delta events, or `await result()`.

    Updates are coalesced like a watch channel: a slow consumer sees fewer, larger deltas,
    never an unbounded backlog. Iteration ends after `RunEnd`; an `error` state raises
    RunFailed, a lost connection GatewayDisconnected.
    """

    def __init__(self, run_id: str, session_key: str, status: str) -> None:
        self.run_id = run_id
        self.session_key = session_key
        self.initial_status = status
        self._assembler = TextAssembler()
        self._phase: str | None = None
        self._end: RunEnd | None = None
        self._error: BaseException | None = None
        self._changed = asyncio.Event()

    @property
    def text(self) -> str:
        return self._assembler.text

    @property
    def done(self) -> bool:
        return self._end is not None or self._error is not None

    def apply(self, event: ChatEvent) -> None:
        if self.done:
            return
        if event.state == "status" and event.phase:
            self._phase = event.phase
        elif event.state == "delta":
            self._assembler.feed(event)
        elif event.state == "final":
            self._end = RunEnd(self._assembler.finish(event), False, event.stopReason)
        elif event.state == "aborted":
            self._end = RunEnd(self._assembler.finish(event), True, event.stopReason)
        elif event.state == "error":
            self._error = RunFailed(
                event.errorMessage or "the agent run failed", kind=event.errorKind
            )
        self._changed.set()

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self._error = error
            self._changed.set()

    async def __aiter__(self) -> AsyncIterator[RunEvent]:
        seen_text = ""
        seen_phase: str | None = None
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._phase != seen_phase and self._phase is not None:
                seen_phase = self._phase
                yield RunStatus(self._phase)
            current = self._assembler.text
            if current != seen_text:
                if current.startswith(seen_text):
                    update = TextUpdate(current, current[len(seen_text) :], False)
                else:
                    update = TextUpdate(current, "", True)
                seen_text = current
                yield RunDelta(update)
            if self._end is not None:
                yield self._end
                return
            if self._error is not None:
                raise self._error

    async def result(self) -> RunEnd:
        async for event in self:
            if isinstance(event, RunEnd):
                return event
        raise GatewayProtocolError("run ended without a final event")  # pragma: no cover


class RunRouter:
    """Gateway events -> session activity, the runs they belong to, and one listener.

    Events may outrun the `chat.send` response that names their run: they wait, bounded, in
    an orphan buffer until `open_run` adopts them.
    """

    def __init__(self, activity: SessionActivity, on_event: EventListener | None = None) -> None:
        self.activity = activity
        self.on_event = on_event
        self._runs: dict[str, ChatRun] = {}
        self._orphans: OrderedDict[str, list[ChatEvent]] = OrderedDict()

    def dispatch(self, frame: EventFrame) -> None:
        self.activity.observe(frame.event, frame.payload)
        chat = parse_chat_event(frame)
        if chat is not None:
            run = self._runs.get(chat.runId)
            if run is not None:
                run.apply(chat)
                if run.done:
                    self._runs.pop(chat.runId, None)
            else:
                self._keep_orphan(chat)
        if self.on_event is not None and frame.event != "tick":
            try:
                self.on_event(frame)
            except Exception:  # a listener's bug must not kill the connection
                log.exception("event listener failed on %s", frame.event)

    def open_run(self, run_id: str, session_key: str, status: str) -> ChatRun:
        """The run `chat.send` answered with (the same object again for an in-flight key)."""
        run = self._runs.get(run_id) or ChatRun(run_id, session_key, status)
        self._runs[run_id] = run
        for event in self._orphans.pop(run_id, []):
            run.apply(event)
        if run.done:
            self._runs.pop(run_id, None)
        return run

    def fail_all(self, error: GatewayError) -> None:
        """The connection dropped: whatever ran died with it (or is re-announced later)."""
        self.activity.reset()
        for run in self._runs.values():
            run.fail(error)
        self._runs.clear()

    def _keep_orphan(self, event: ChatEvent) -> None:
        events = self._orphans.setdefault(event.runId, [])
        self._orphans.move_to_end(event.runId)
        if len(events) < _ORPHAN_EVENTS:
            events.append(event)
        while len(self._orphans) > _ORPHAN_RUNS:
            self._orphans.popitem(last=False)
