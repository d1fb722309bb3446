"""An asyncio client of the OpenClaw gateway: one socket, kept alive and reconnected.

Shape (after python-websockets and httpx): the protocol (framing, correlation, delta
assembly) is plain code in `protocol.py`; this module only moves frames. A connection manager
task owns the socket: it connects (challenge -> connect with token + device signature),
retries start-up `UNAVAILABLE` and refused connections with a jittered capped backoff that
resets after success, watches liveness (ticks), and on any loss fails the requests and runs in
flight with `GatewayDisconnected` before reconnecting. Authentication errors are final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from serverless_openclaw import __version__
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import (
    GatewayAuthError,
    GatewayDisconnected,
    GatewayError,
    GatewayProtocolError,
    RunFailed,
)

from .activity import SessionActivity
from .device import DeviceIdentity
from .protocol import (
    SCOPES,
    ChatEvent,
    EventFrame,
    Hello,
    ResponseFrame,
    TextAssembler,
    TextUpdate,
    connect_params,
    error_from,
    message_text,
    parse_challenge,
    parse_chat_event,
    parse_frame,
    parse_hello,
    request_frame,
)

log = logging.getLogger(__name__)

_ORPHAN_RUNS = 64
_ORPHAN_EVENTS = 512


# --- what callers get ----------------------------------------------------------------------
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


@dataclass(frozen=True)
class HistoryMessage:
    role: str
    text: str
    timestamp_ms: int | None
    id: str | None
    run_id: str | None = None
    """The run that produced an assistant message (a chat.send run, or e.g. a cron run)."""
    stop_reason: str | None = None
    """Why the model stopped ("stop", "aborted", "error"...), for assistant messages."""


@dataclass(frozen=True)
class CronJob:
    id: str
    name: str
    enabled: bool
    schedule: dict[str, Any]
    payload_kind: str
    session_target: str
    next_run_at_ms: int | None
    declaration_key: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


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

    def _apply(self, event: ChatEvent) -> None:
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

    def _fail(self, error: BaseException) -> None:
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


# --- liveness ------------------------------------------------------------------------------
@dataclass
class Liveness:
    """A socket is dead after two tick intervals of silence (the gateway ticks every 15 s)."""

    tick_interval_s: float
    grace_s: float = 5.0
    last_seen: float = 0.0

    def seen(self, now: float) -> None:
        self.last_seen = now

    def is_dead(self, now: float) -> bool:
        return now - self.last_seen > 2 * self.tick_interval_s + self.grace_s


# --- the client ----------------------------------------------------------------------------
EventListener = Callable[[EventFrame], None]


class GatewayClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        identity: DeviceIdentity | None = None,
        client_version: str = __version__,
        open_timeout: float = 10.0,
        request_timeout: float = 30.0,
        backoff: Backoff | None = None,
        on_event: EventListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        scopes: tuple[str, ...] = SCOPES,
    ) -> None:
        self.url = url
        self._token = token
        self._identity = identity
        self._client_version = client_version
        self._open_timeout = open_timeout
        self._request_timeout = request_timeout
        self._backoff = backoff or Backoff(base=0.25, cap=5.0)
        self._on_event = on_event
        self._clock = clock
        self._scopes = scopes
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._fatal: BaseException | None = None
        self._closing = False
        self._manager: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._runs: dict[str, ChatRun] = {}
        self._orphans: OrderedDict[str, list[ChatEvent]] = OrderedDict()
        self.activity = SessionActivity(clock)
        """Runs busy per session, including those OpenClaw started by itself."""
        self.hello: Hello | None = None
        self.connections = 0
        self.last_error: BaseException | None = None

    # lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> GatewayClient:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def start(self, *, wait: bool = True, timeout: float | None = 60.0) -> None:
        if self._manager is None:
            self._manager = asyncio.create_task(self._run(), name="openclaw-gateway-client")
        if wait:
            await self.wait_connected(timeout)

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._manager is not None:
            self._manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager
            self._manager = None
        self._fail_in_flight(GatewayDisconnected("client closed"))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for a live connection; raises the fatal error (e.g. wrong token) if any."""

        async def _wait() -> None:
            while not self._connected.is_set():
                if self._fatal is not None:
                    raise self._fatal
                if self._manager is not None and self._manager.done():
                    self._manager.result()
                    raise GatewayDisconnected("gateway client stopped")
                self._state_changed.clear()
                await self._state_changed.wait()

        if self._fatal is not None:
            raise self._fatal
        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError as exc:
            detail = f": {self.last_error}" if self.last_error else ""
            raise GatewayDisconnected(
                f"no connection to the gateway at {self.url} within {timeout} s{detail}"
            ) from exc

    def _notify(self) -> None:
        self._state_changed.set()

    async def _run(self) -> None:
        while not self._closing:
            established = False
            retry_after: float | None = None
            try:
                established = await self._connect_once()
            except GatewayAuthError as exc:
                self._fatal = exc
                self._notify()
                return
            except GatewayError as exc:
                self.last_error = exc
                if not exc.retryable and not isinstance(exc, GatewayDisconnected):
                    log.warning("gateway error during connect: %s", exc)
                if exc.retry_after_ms:
                    retry_after = exc.retry_after_ms / 1000
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                self.last_error = exc
            finally:
                self._connected.clear()
                self._ws = None
                self._fail_in_flight(GatewayDisconnected("connection to the gateway was lost"))
                self._notify()
            if established:
                self._backoff.reset()
            await asyncio.sleep(retry_after if retry_after is not None else self._backoff.next())

    async def _connect_once(self) -> bool:
        """Connect, handshake and serve frames until the socket ends. True if it got ready."""
        async with connect(
            self.url,
            open_timeout=self._open_timeout,
            max_size=None,
            compression=None,
            close_timeout=2,
        ) as ws:
            first = await asyncio.wait_for(ws.recv(), self._open_timeout)
            challenge = parse_challenge(parse_frame(first))
            params = connect_params(
                challenge=challenge,
                token=self._token,
                identity=self._identity,
                client_version=self._client_version,
                scopes=self._scopes,
            )
            request_id = f"connect-{uuid.uuid4().hex[:8]}"
            await ws.send(request_frame(request_id, "connect", params))
            response = await self._await_connect_response(ws, request_id)
            if not response.ok:
                raise error_from("connect", response.error)
            self.hello = parse_hello(response.payload)
            self._ws = ws
            self.connections += 1
            self._connected.set()
            self._notify()
            await self._serve(ws, self.hello)
            return True

    async def _await_connect_response(self, ws: ClientConnection, request_id: str) -> ResponseFrame:
        deadline = self._clock() + self._open_timeout
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TimeoutError("no answer to connect")
            frame = parse_frame(await asyncio.wait_for(ws.recv(), remaining))
            if isinstance(frame, ResponseFrame) and frame.id == request_id:
                return frame

    async def _serve(self, ws: ClientConnection, hello: Hello) -> None:
        liveness = Liveness(tick_interval_s=hello.tick_interval_ms / 1000)
        liveness.seen(self._clock())
        watchdog = asyncio.create_task(self._watch(ws, liveness), name="openclaw-liveness")
        try:
            async for raw in ws:
                liveness.seen(self._clock())
                try:
                    frame = parse_frame(raw)
                except GatewayProtocolError as exc:
                    log.warning("dropping an unreadable frame from the gateway: %s", exc)
                    continue
                self._dispatch(frame)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _watch(self, ws: ClientConnection, liveness: Liveness) -> None:
        while True:
            await asyncio.sleep(max(0.5, liveness.tick_interval_s / 2))
            if liveness.is_dead(self._clock()):
                log.warning("gateway silent for two tick intervals; reconnecting")
                await ws.close(code=4000, reason="liveness")
                return

    def _dispatch(self, frame: ResponseFrame | EventFrame) -> None:
        if isinstance(frame, ResponseFrame):
            future = self._pending.pop(frame.id, None)
            if future is not None and not future.done():
                future.set_result(frame)
            return
        self.activity.observe(frame.event, frame.payload)
        chat = parse_chat_event(frame)
        if chat is not None:
            run = self._runs.get(chat.runId)
            if run is not None:
                run._apply(chat)
                if run.done:
                    self._runs.pop(chat.runId, None)
            else:
                self._keep_orphan(chat)
        if self._on_event is not None and frame.event not in ("tick",):
            try:
                self._on_event(frame)
            except Exception:  # a listener's bug must not kill the connection
                log.exception("event listener failed on %s", frame.event)

    def _keep_orphan(self, event: ChatEvent) -> None:
        """Events may outrun the chat.send response; keep a bounded buffer by run id."""
        events = self._orphans.setdefault(event.runId, [])
        self._orphans.move_to_end(event.runId)
        if len(events) < _ORPHAN_EVENTS:
            events.append(event)
        while len(self._orphans) > _ORPHAN_RUNS:
            self._orphans.popitem(last=False)

    def _fail_in_flight(self, error: GatewayError) -> None:
        self.activity.reset()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for run in self._runs.values():
            run._fail(error)
        self._runs.clear()

    # requests ----------------------------------------------------------------------------
    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send a request and return its payload; error responses raise GatewayError."""
        timeout = self._request_timeout if timeout is None else timeout
        await self.wait_connected(timeout)
        ws = self._ws
        if ws is None:
            raise GatewayDisconnected("not connected to the gateway")
        request_id = uuid.uuid4().hex
        future: asyncio.Future[ResponseFrame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            async with self._send_lock:
                await ws.send(request_frame(request_id, method, params or {}))
            response = await asyncio.wait_for(future, timeout)
        except websockets.exceptions.ConnectionClosed as exc:
            raise GatewayDisconnected(f"{method}: connection closed") from exc
        except TimeoutError as exc:
            raise GatewayError(f"{method}: no answer within {timeout} s", code="TIMEOUT") from exc
        finally:
            self._pending.pop(request_id, None)
        if not response.ok:
            raise error_from(method, response.error)
        return response.payload

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> ChatRun:
        payload = await self.request(
            "chat.send",
            {
                "sessionKey": session_key,
                "message": message,
                "idempotencyKey": idempotency_key or uuid.uuid4().hex,
            },
        )
        if not isinstance(payload, dict) or not isinstance(payload.get("runId"), str):
            raise GatewayProtocolError("chat.send answered without a runId")
        run_id = payload["runId"]
        run = self._runs.get(run_id) or ChatRun(run_id, session_key, str(payload.get("status")))
        self._runs[run_id] = run
        for event in self._orphans.pop(run_id, []):
            run._apply(event)
        if run.done:
            self._runs.pop(run_id, None)
        return run

    async def chat_abort(self, session_key: str, run_id: str | None = None) -> Any:
        params: dict[str, Any] = {"sessionKey": session_key}
        if run_id:
            params["runId"] = run_id
        return await self.request("chat.abort", params)

    async def chat_history(
        self, session_key: str, *, limit: int | None = None
    ) -> list[HistoryMessage]:
        params: dict[str, Any] = {"sessionKey": session_key}
        if limit is not None:
            params["limit"] = limit
        payload = await self.request("chat.history", params)
        messages = payload.get("messages", []) if isinstance(payload, dict) else []
        history = []
        for item in messages:
            if not isinstance(item, dict):
                continue
            meta = item.get("__openclaw") or {}
            history.append(
                HistoryMessage(
                    role=str(item.get("role", "")),
                    text=message_text(item) or "",
                    timestamp_ms=item.get("timestamp"),
                    id=meta.get("id") if isinstance(meta, dict) else None,
                    run_id=meta.get("runId") if isinstance(meta, dict) else None,
                    stop_reason=item.get("stopReason")
                    if isinstance(item.get("stopReason"), str)
                    else None,
                )
            )
        return history

    async def health(self) -> dict[str, Any]:
        payload = await self.request("health")
        return payload if isinstance(payload, dict) else {}

    async def cron_list(self) -> list[CronJob]:
        payload = await self.request("cron.list", {})
        jobs = payload.get("jobs", []) if isinstance(payload, dict) else []
        result = []
        for job in jobs:
            if not isinstance(job, dict):
                continue
            state = job.get("state") or {}
            next_run = job.get("nextRunAtMs", state.get("nextRunAtMs"))
            result.append(
                CronJob(
                    id=str(job.get("id", "")),
                    name=str(job.get("name") or job.get("displayName") or ""),
                    enabled=bool(job.get("enabled", False)),
                    schedule=dict(job.get("schedule") or {}),
                    payload_kind=str((job.get("payload") or {}).get("kind", "")),
                    session_target=str(job.get("sessionTarget", "")),
                    next_run_at_ms=int(next_run) if isinstance(next_run, int | float) else None,
                    declaration_key=job.get("declarationKey"),
                    raw=job,
                )
            )
        return result
