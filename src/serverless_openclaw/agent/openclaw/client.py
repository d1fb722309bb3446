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
from collections.abc import Callable
from dataclasses import dataclass
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
)

from .activity import SessionActivity
from .device import DeviceIdentity
from .gateway import CronJob as CronJob
from .gateway import HistoryMessage as HistoryMessage
from .gateway import parse_cron_jobs, parse_history
from .protocol import (
    SCOPES,
    EventFrame,
    Hello,
    ResponseFrame,
    connect_params,
    error_from,
    parse_challenge,
    parse_frame,
    parse_hello,
    request_frame,
)
from .runs import ChatRun as ChatRun
from .runs import EventListener as EventListener
from .runs import RunDelta as RunDelta
from .runs import RunEnd as RunEnd
from .runs import RunEvent as RunEvent
from .runs import RunRouter
from .runs import RunStatus as RunStatus

log = logging.getLogger(__name__)


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
class GatewayClient:
    """The real `Gateway` (gateway.py) over the loopback WebSocket."""

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
        self._activity = SessionActivity(clock)
        self._router = RunRouter(self._activity, on_event)
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
    def activity(self) -> SessionActivity:
        """Runs busy per session, including those OpenClaw started by itself."""
        return self._activity

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
        self._router.dispatch(frame)

    def _fail_in_flight(self, error: GatewayError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        self._router.fail_all(error)

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
        return self._router.open_run(payload["runId"], session_key, str(payload.get("status")))

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
        return parse_history(await self.request("chat.history", params))

    async def health(self) -> dict[str, Any]:
        payload = await self.request("health")
        return payload if isinstance(payload, dict) else {}

    async def cron_list(self) -> list[CronJob]:
        return parse_cron_jobs(await self.request("cron.list", {}))
