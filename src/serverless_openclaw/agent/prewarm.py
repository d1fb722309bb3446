"""Pre-warming: pay OpenClaw's first-turn cost before the person's first message arrives.

After /readyz, OpenClaw's first turn still takes ~5 s of lazy work (worker threads, child
processes, the agent runtime's modules); the turns after it take ~0.3 s. When the agent wakes
*before* a message — wake on open (the web app starts it at sign-in), a scheduled wake, a
reconnecting page — the supervisor spends that cost on a throwaway turn of its own, so that
the person's first turn starts warm (~1 s instead of ~5 s).

How it decides. It pre-warms only when no job waits in the user's inbox once the agent runs
(`pending_jobs`, the inbox depth: waiting or in flight). A message that woke the agent, or
one sent while it started, is in the inbox by then, and the person's turn must not share
the CPU with a throwaway turn; a message that arrives during the warm-up is answered at once
beside it (the bridge never waits for the warm-up). The depth rather than the wake reason,
because it also sees messages sent during the start-up, whatever woke the agent. Nor when
a scheduled job falls due within `SCHEDULE_GUARD_S` (`next_job_in`, from OpenClaw's
`cron.list`): OpenClaw postpones a scheduled system event that falls due while a turn runs
by a whole minute (its session-event retry), so a warm-up then would make the reminder a
minute late; the job's own turn warms OpenClaw just as well.

What it costs. No model call: the warm-up session's model is a *stand-in* served here on
loopback (an OpenAI-compatible endpoint answering "ok"), set with `sessions.patch` on that
session only, which the bridge's `operator.write` scope may do. The turn runs OpenClaw's whole
path — session, context and prompt assembly, tools, the model transport, streaming, the
transcript — except the provider's own network request: 0 tokens, no provider bill. What it
does not warm is the person's provider client (e.g. the TLS connection to the model API).

One session, reused: `agent:main:soc-prewarm` (the bridge's own sessions are `agent:main:main`
and `agent:main:conv-<id>`). It grows by two short messages per wake, answered by the
stand-in whatever their number. The bridge's scopes could delete it once archived, but
OpenClaw keeps every deleted transcript as a file of its own (docs/performance.md,
"Pre-warming"): one file per wake in every backup is worse than two short rows.

The same stand-in fills Node's compile cache when the image is built
(`python -m serverless_openclaw.agent.prewarm compile-cache`): a gateway start and two turns
with `NODE_COMPILE_CACHE` pointing at the runtime's cache folder (see runtime/installer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from serverless_openclaw.core.errors import OpenClawError, StorageUnavailable
from serverless_openclaw.loopback import free_port
from serverless_openclaw.runtime.installer import OpenClawRuntime, locate
from serverless_openclaw.settings import environ_snapshot

from . import health
from .openclaw.client import GatewayClient
from .openclaw.config import PREWARM_MODEL, PREWARM_PROVIDER, ModelChoice, patch_config
from .openclaw.config import write_config as write_openclaw_config
from .openclaw.device import DeviceIdentity
from .openclaw.gateway_process import GatewayProcess, gateway_environment

log = logging.getLogger(__name__)

SESSION_KEY: Final = "agent:main:soc-prewarm"
SCHEDULE_GUARD_S: Final = 60.0
"""No warm-up when a scheduled job is due this soon: a warm-up lasts 1-10 s, and a job that
falls due during it is postponed by OpenClaw for 60 s (`SESSION_EVENT_IDLE_RETRY_MS`)."""
WARM_UP_TEXT: Final = "(warm-up turn: answer with one word)"
STAND_IN_REPLY: Final = "ok"


# --- the stand-in model ----------------------------------------------------------------------
def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": PREWARM_MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def _stream() -> AsyncIterator[bytes]:
    yield _chunk({"role": "assistant", "content": STAND_IN_REPLY})
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    yield _chunk({}, "stop", usage=usage)
    yield b"data: [DONE]\n\n"


@dataclass
class StandInStats:
    requests: int = 0


def stand_in_app(stats: StandInStats | None = None) -> Starlette:
    """An OpenAI-compatible chat endpoint that answers "ok" at once, for any prompt."""
    counted = stats or StandInStats()

    async def completions(request: Request) -> Response:
        counted.requests += 1
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        if isinstance(body, dict) and body.get("stream"):
            return StreamingResponse(_stream(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": 0,
                "model": PREWARM_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": STAND_IN_REPLY},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        )

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": PREWARM_MODEL, "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


class StandIn:
    """The stand-in model served on 127.0.0.1 while it is needed (`port` 0: any free port)."""

    def __init__(self, port: int = 0) -> None:
        self.stats = StandInStats()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> str:
        app = stand_in_app(self.stats)
        self._server, self._task, self.port = await health.serve(app, self.port)
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None


# --- the throwaway turn ---------------------------------------------------------------------
class WarmRun(Protocol):
    async def result(self) -> Any: ...


@runtime_checkable
class WarmGateway(Protocol):
    """What the warm-up needs of `GatewayClient` (the unit tests' fake gateway cannot set a
    session's model, so the supervisor does not pre-warm it)."""

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any: ...

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> WarmRun: ...


async def warm_turn(gateway: WarmGateway, *, timeout: float = 120.0) -> None:
    """One turn on the warm-up session, answered by the stand-in model."""
    model = f"{PREWARM_PROVIDER}/{PREWARM_MODEL}"
    await gateway.request("sessions.patch", {"key": SESSION_KEY, "model": model})
    run = await gateway.chat_send(SESSION_KEY, WARM_UP_TEXT, idempotency_key=uuid.uuid4().hex)
    await asyncio.wait_for(run.result(), timeout)


@dataclass(frozen=True)
class PrewarmResult:
    warmed: bool
    reason: str
    """One of: warmed, jobs waiting, inbox unreadable, scheduled job due, schedule
    unreadable, disabled, failed: <why>."""
    seconds: float | None = None
    model_calls: int = 0
    """Requests the stand-in answered (what a real model would have billed: none)."""


class Prewarm:
    """The supervisor's pre-warm: `open()` before the config is written (the stand-in's URL
    goes into openclaw.json), `start(gateway)` once the agent runs, `aclose()` at shutdown."""

    def __init__(
        self,
        *,
        pending_jobs: Callable[[], int],
        next_job_in: Callable[[], Awaitable[float | None]] | None = None,
        enabled: bool = True,
        timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        self._pending_jobs = pending_jobs
        self._next_job_in = next_job_in
        self.enabled = enabled
        self._timeout = timeout
        self._clock = clock
        self._stand_in = StandIn(port)
        self._task: asyncio.Task[PrewarmResult] | None = None
        self.result: PrewarmResult | None = None

    async def open(self) -> str | None:
        """Serve the stand-in; returns its base URL for the config (None: no pre-warm)."""
        if not self.enabled:
            return None
        try:
            return await self._stand_in.start()
        except (OSError, RuntimeError) as exc:
            log.warning("pre-warm off: the stand-in model could not listen (%s)", exc)
            self.enabled = False
            return None

    def start(self, gateway: WarmGateway) -> None:
        """Run the warm-up in the background (the bridge does not wait for it)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(gateway), name="prewarm")
            self._task.add_done_callback(_log_failure)

    async def run(self, gateway: WarmGateway) -> PrewarmResult:
        self.result = await self._run(gateway)
        log.info("pre-warm: %s", self.result)
        await self._stand_in.stop()
        return self.result

    async def _run(self, gateway: WarmGateway) -> PrewarmResult:
        if not self.enabled:
            return PrewarmResult(False, "disabled")
        try:
            waiting = await asyncio.to_thread(self._pending_jobs)
        except StorageUnavailable as exc:
            log.warning("pre-warm skipped: the inbox could not be read (%s)", exc)
            return PrewarmResult(False, "inbox unreadable")
        if waiting > 0:
            return PrewarmResult(False, "jobs waiting")
        if self._next_job_in is not None:
            try:
                due_in = await self._next_job_in()
            except OpenClawError as exc:
                log.warning("pre-warm skipped: the schedule could not be read (%s)", exc)
                return PrewarmResult(False, "schedule unreadable")
            if due_in is not None and due_in < SCHEDULE_GUARD_S:
                return PrewarmResult(False, "scheduled job due")
        started = self._clock()
        before = self._stand_in.stats.requests
        try:
            await warm_turn(gateway, timeout=self._timeout)
        except (OpenClawError, TimeoutError) as exc:
            return PrewarmResult(False, f"failed: {exc}"[:300])
        return PrewarmResult(
            True,
            "warmed",
            seconds=round(self._clock() - started, 3),
            model_calls=self._stand_in.stats.requests - before,
        )

    async def aclose(self) -> None:
        """Cancel a warm-up still running and stop the stand-in. Never raises: a failed
        warm-up was logged when it failed (`_log_failure`) and must not hold up a shutdown."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._stand_in.stop()


def _log_failure(task: asyncio.Task[PrewarmResult]) -> None:
    """The warm-up is an optimisation: an error it did not expect is logged, not fatal."""
    if not task.cancelled() and task.exception() is not None:
        log.error("pre-warm failed", exc_info=task.exception())


# --- the build-time warm-up: fill the compile cache -------------------------------------------
async def fill_compile_cache(
    runtime: OpenClawRuntime,
    *,
    progress: Callable[[str], None] = lambda _: None,
    ready_timeout: float = 1800.0,
) -> Path:
    """Start OpenClaw once with its compile cache folder as NODE_COMPILE_CACHE, run the
    warm-up turn and a main-session turn against the stand-in, stop. Returns the folder.

    Runs as the user that will run the gateway (Node keys the cache by uid); the long
    timeout is for image builds under CPU emulation.
    """
    cache = runtime.compile_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    runtime = replace(runtime, compile_cache=cache)
    stand_in = StandIn()
    url = await stand_in.start()
    try:
        with tempfile.TemporaryDirectory(prefix="soc-warm-") as scratch:
            root = Path(scratch)
            state, home, tmp = root / "state", root / "home", root / "tmp"
            for folder in (state, home, tmp):
                folder.mkdir()
            port = free_port()
            token = secrets.token_urlsafe(24)
            config = patch_config(
                None,
                port=port,
                model=ModelChoice("offline", base_url=url),
                log_file=root / "logs" / "openclaw.log",
                prewarm_url=url,
            )
            write_openclaw_config(state / "openclaw.json", config)
            base = environ_snapshot()
            base["TMPDIR"] = str(tmp)
            base.pop("NODE_COMPILE_CACHE", None)
            env = gateway_environment(base, state_dir=state, home=home, token=token)
            process = GatewayProcess(runtime, state, port, env, root / "logs" / "gateway.out")
            started = time.monotonic()
            await process.start()
            try:
                await process.wait_ready(timeout=ready_timeout)
                progress(f"gateway ready after {time.monotonic() - started:.0f} s")
                async with GatewayClient(
                    process.url, token, identity=DeviceIdentity.load_or_create(state)
                ) as client:
                    await warm_turn(client, timeout=ready_timeout)
                    run = await client.chat_send("agent:main:main", "warm-up")
                    await asyncio.wait_for(run.result(), ready_timeout)
                progress(f"two turns done after {time.monotonic() - started:.0f} s")
            finally:
                await process.stop()
    finally:
        await stand_in.stop()
    return cache


def _main(argv: list[str] | None = None) -> int:
    """`python -m serverless_openclaw.agent.prewarm compile-cache [--runtime-dir DIR]`."""
    parser = argparse.ArgumentParser(prog="serverless_openclaw.agent.prewarm")
    parser.add_argument("command", choices=["compile-cache"])
    parser.add_argument("--runtime-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    runtime = locate(args.runtime_dir)
    if runtime is None:
        print("error: OpenClaw is not installed there (runtime/installer.py)", flush=True)
        return 1
    cache = asyncio.run(fill_compile_cache(runtime, progress=lambda s: print(s, flush=True)))
    files = sum(1 for p in cache.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    print(json.dumps({"compileCache": str(cache), "files": files, "bytes": size}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
