"""A scriptable stand-in for the OpenClaw gateway, shipped beside the real client (like httpx's
MockTransport): the bridge, the scheduler and the supervisor are unit-tested with it, no Node.

What it imitates, each as the pinned OpenClaw 2026.9.6 was seen to behave (OPENCLAW.md, A12):
- a turn streams `chat` deltas and a final, framed by `agent` lifecycle events; the person's
  message (stamped like OpenClaw stamps it) and the answer go into the session's history;
- the same idempotency key while a run is busy gives that run; a key it remembers from an
  ended run gives an empty run;
- a `chat.send` into a session where another run is busy is folded into that run: it ends at
  once, empty;
- a crash (`crash()`, or `kill()` of its process) is a disconnect: runs in flight fail with
  `GatewayDisconnected`; the person's message stays in the history, the partial answer does
  not. On the next boot OpenClaw's own restart recovery answers an interrupted main-session
  turn by itself, under a run id nobody asked for;
- scheduled jobs (`cron.list`) and their runs, which write to the main session's history and
  emit `cron` events but no `chat` events.

Scripting: `script(match, behaviour)` makes the next message containing `match` reply with a
given text, fail, stall or crash the gateway mid-stream. With a `state_file` (the process
fake puts one in OpenClaw's state dir) sessions, remembered keys, jobs and interrupted turns
survive a restart and travel with the state dir's backup, as OpenClaw's SQLite files do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.core.errors import GatewayDisconnected, GatewayError

from .activity import SessionActivity
from .gateway import CronJob, HistoryMessage, parse_cron_jobs, parse_history
from .protocol import EventFrame
from .runs import ChatRun, EventListener, RunRouter

MAIN_SESSION: Final = "agent:main:main"
RECOVERY_NOTICE: Final = (
    "[System] Your previous turn was interrupted by a gateway restart while OpenClaw was "
    "waiting on tool/model work."
)
STATE_FILE: Final = "fake-openclaw.json"


def echo(message: str) -> str:
    """The default answer: labelled, so nobody mistakes the fake for a model."""
    return f"[fake openclaw] You said: {message}"


# --- what a scripted message does ----------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """Stream `text` (None: the default answer) in `chunks` deltas, `delay_s` apart."""

    text: str | None = None
    chunks: int = 3
    delay_s: float = 0.0


@dataclass(frozen=True)
class Fail:
    """The run ends in `error` (a model failure): the bridge sees `RunFailed`."""

    message: str = "the model is unavailable"
    kind: str | None = "model"


@dataclass(frozen=True)
class Stall:
    """Stream `partial`, then nothing until the run is aborted or the gateway dies."""

    partial: str = ""


@dataclass(frozen=True)
class Crash:
    """Stream `partial`, then the gateway process dies mid-run."""

    partial: str = ""


Behaviour = Reply | Fail | Stall | Crash


@dataclass
class _Rule:
    match: str
    behaviour: Behaviour
    times: int


@dataclass(frozen=True)
class Sent:
    """One `chat.send` the gateway received (tests count turns with these)."""

    session_key: str
    text: str
    idempotency_key: str
    run_id: str
    outcome: str
    """"started", "in_flight", "remembered" (empty run) or "folded" (empty run)."""


@dataclass
class _Playing:
    run_id: str
    session_key: str
    text: str
    task: asyncio.Task[Any] | None = None
    streamed: str = ""
    seq: int = 0


# --- the gateway ---------------------------------------------------------------------------
class FakeGateway:
    """A `Gateway` (gateway.py) with OpenClaw's observable behaviour and no process."""

    def __init__(
        self,
        *,
        answer: Callable[[str], str] = echo,
        default: Behaviour = Reply(),
        state_file: Path | None = None,
        recovery: bool = True,
        recovery_delay_s: float = 0.0,
        request_timeout: float = 5.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        on_event: EventListener | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.answer = answer
        self.default = default
        self.state_file = state_file
        self.recovery = recovery
        self.recovery_delay_s = recovery_delay_s
        self.request_timeout = request_timeout
        self.clock_ms = clock_ms
        self._activity = SessionActivity()
        self._router = RunRouter(self._activity, on_event)
        self._up = asyncio.Event()
        self._exit: asyncio.Future[int] | None = None
        self._rules: list[_Rule] = []
        self._playing: dict[str, _Playing] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.cron_jobs: list[dict[str, Any]] = []
        self._keys: set[str] = set()
        self._interrupted: list[dict[str, str]] = []
        self.sent: list[Sent] = []
        self.requests: list[str] = []
        self.boots = 0
        self.crashes = 0
        self.closed = False
        self.log = log if log is not None else []
        """Its life in order: "gateway boot", "gateway crash", "gateway stop", "client close"."""

    # --- Gateway -------------------------------------------------------------------------
    @property
    def activity(self) -> SessionActivity:
        return self._activity

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def listen(self, on_event: EventListener | None) -> None:
        """Where events go (the supervisor's listener, set when it connects)."""
        self._router.on_event = on_event

    async def start(self, *, wait: bool = True, timeout: float | None = 60.0) -> None:
        self.closed = False
        if wait:
            await self.wait_connected(timeout)

    async def wait_connected(self, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError as exc:
            raise GatewayDisconnected(f"no fake gateway within {timeout} s") from exc

    async def close(self) -> None:
        self.log.append("client close")
        self.closed = True

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> ChatRun:
        await self._request("chat.send")
        key = idempotency_key or uuid.uuid4().hex
        playing = self._playing.get(key)
        if playing is not None:
            self.sent.append(Sent(session_key, message, key, key, "in_flight"))
            return self._router.open_run(key, session_key, "in_flight")
        busy = self._activity.busy_runs(session_key)
        outcome = "remembered" if key in self._keys else "folded" if busy else "started"
        self.sent.append(Sent(session_key, message, key, key, outcome))
        run = self._router.open_run(key, session_key, "started")
        if outcome != "started":
            self._chat(key, session_key, "final", seq=1, message=_assistant(""))
            return run
        self._keys.add(key)
        self._append(session_key, "user", self._stamped(message))
        playing = _Playing(key, session_key, message)
        self._playing[key] = playing
        self._interrupted.append({"session": session_key, "text": message, "run": key})
        self._save()
        playing.task = self._spawn(self._play(playing, self._behaviour(message)))
        return run

    async def chat_abort(self, session_key: str, run_id: str | None = None) -> Any:
        await self._request("chat.abort")
        targets = [
            p
            for p in self._playing.values()
            if p.session_key == session_key and (run_id is None or p.run_id == run_id)
        ]
        for playing in targets:
            await self._stop_playing(playing)
            self._end_run(playing, "aborted", stop_reason="aborted")
        return {"ok": True, "aborted": bool(targets)}

    async def chat_history(
        self, session_key: str, *, limit: int | None = None
    ) -> list[HistoryMessage]:
        await self._request("chat.history")
        messages = self.sessions.get(session_key, [])
        return parse_history({"messages": messages[-limit:] if limit else messages})

    async def cron_list(self) -> list[CronJob]:
        await self._request("cron.list")
        return parse_cron_jobs({"jobs": self.cron_jobs})

    # --- scripting -----------------------------------------------------------------------
    def script(self, match: str, behaviour: Behaviour, *, times: int = 1) -> None:
        """The next `times` messages containing `match` behave so (then the default)."""
        self._rules.append(_Rule(match, behaviour, times))

    def history(self, session_key: str = MAIN_SESSION) -> list[HistoryMessage]:
        return parse_history({"messages": self.sessions.get(session_key, [])})

    def turns(self, text: str) -> list[Sent]:
        """The sends of `text` that started a turn (what the model was asked)."""
        return [s for s in self.sent if s.text == text and s.outcome == "started"]

    def add_cron_job(
        self,
        name: str,
        *,
        next_run_at_ms: int | None,
        payload_kind: str = "systemEvent",
        enabled: bool = True,
        schedule: Mapping[str, Any] | None = None,
        declaration_key: str | None = None,
    ) -> str:
        job_id = uuid.uuid4().hex[:12]
        job: dict[str, Any] = {
            "id": job_id,
            "name": name,
            "enabled": enabled,
            "schedule": dict(schedule or {"kind": "at"}),
            "sessionTarget": "main",
            "payload": {"kind": payload_kind, "text": name},
            "state": {"nextRunAtMs": next_run_at_ms},
        }
        if declaration_key:
            job["declarationKey"] = declaration_key
        self.cron_jobs.append(job)
        self._save()
        self._emit("cron", {"action": "added", "jobId": job_id})
        return job_id

    def remove_cron_job(self, job_id: str) -> None:
        self.cron_jobs = [j for j in self.cron_jobs if j["id"] != job_id]
        self._save()
        self._emit("cron", {"action": "removed", "jobId": job_id})

    async def fire_cron_job(self, job_id: str, text: str, *, delete: bool = False) -> str:
        """The job runs in the main session: its output lands in the history (no `chat`
        events), as OpenClaw's scheduled runs do. Returns the message id."""
        run_id = f"cron-{job_id}-{uuid.uuid4().hex[:6]}"
        self._emit("cron", {"action": "started", "jobId": job_id})
        self._lifecycle(run_id, MAIN_SESSION, "start")
        message_id = self._append(MAIN_SESSION, "assistant", text, run_id=run_id)
        self._lifecycle(run_id, MAIN_SESSION, "end")
        self._emit("cron", {"action": "finished", "jobId": job_id})
        if delete:
            self.remove_cron_job(job_id)
        self._save()
        await asyncio.sleep(0)
        return message_id

    # --- the process's life --------------------------------------------------------------
    async def boot(self) -> None:
        """The gateway process started: state loaded, connected, and OpenClaw's own restart
        recovery started for a main-session turn that a crash interrupted."""
        self._load()
        self.log.append("gateway boot")
        self.boots += 1
        self._exit = asyncio.get_running_loop().create_future()
        self._up.set()
        interrupted, self._interrupted = self._interrupted, []
        self._save()
        if self.recovery:
            for turn in interrupted:
                if turn["session"] == MAIN_SESSION:
                    self._spawn(self._recover(turn["text"]))

    def crash(self, code: int = -9) -> None:
        """The gateway dies at once (kill -9): a disconnect for everyone using it."""
        self.log.append("gateway crash")
        self.crashes += 1
        self._die(code)

    async def shutdown(self) -> int:
        """SIGTERM: a clean exit (runs in flight end with it)."""
        self.log.append("gateway stop")
        self._die(0)
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return 0

    async def exited(self) -> int:
        if self._exit is None:
            return 0
        return await asyncio.shield(self._exit)

    def _die(self, code: int) -> None:
        if not self._up.is_set():
            return
        self._up.clear()
        for playing in list(self._playing.values()):
            if playing.task is not None:
                playing.task.cancel()
        self._playing.clear()
        self._router.fail_all(GatewayDisconnected("connection to the gateway was lost"))
        if self._exit is not None and not self._exit.done():
            self._exit.set_result(code)

    # --- runs ----------------------------------------------------------------------------
    async def _request(self, method: str) -> None:
        self.requests.append(method)
        if self.closed:
            raise GatewayDisconnected("client closed")
        await self.wait_connected(self.request_timeout)

    def _behaviour(self, message: str) -> Behaviour:
        for rule in self._rules:
            if rule.match in message and rule.times > 0:
                rule.times -= 1
                return rule.behaviour
        return self.default

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _play(self, playing: _Playing, behaviour: Behaviour) -> None:
        await asyncio.sleep(0)  # the response to chat.send goes out before any event
        self._lifecycle(playing.run_id, playing.session_key, "start")
        if isinstance(behaviour, Fail):
            self._end_run(playing, "error", error=behaviour.message, error_kind=behaviour.kind)
            return
        if isinstance(behaviour, Reply):
            text = self.answer(playing.text) if behaviour.text is None else behaviour.text
            await self._stream(playing, text, behaviour.chunks, behaviour.delay_s)
            self._end_run(playing, "final", stop_reason="stop")
            return
        await self._stream(playing, behaviour.partial, 2, 0.0)
        if isinstance(behaviour, Crash):
            self.crash()
            return
        await asyncio.Event().wait()  # Stall: until aborted or the gateway dies

    async def _stream(self, playing: _Playing, text: str, chunks: int, delay_s: float) -> None:
        size = max(1, -(-len(text) // max(1, chunks)))
        for start in range(0, len(text), size):
            await asyncio.sleep(delay_s)
            playing.seq += 1
            playing.streamed += text[start : start + size]
            self._chat(
                playing.run_id,
                playing.session_key,
                "delta",
                seq=playing.seq,
                deltaText=text[start : start + size],
            )

    async def _stop_playing(self, playing: _Playing) -> None:
        if playing.task is not None and playing.task is not asyncio.current_task():
            playing.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing.task

    def _end_run(
        self,
        playing: _Playing,
        state: str,
        *,
        stop_reason: str | None = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        self._playing.pop(playing.run_id, None)
        self._interrupted = [t for t in self._interrupted if t["run"] != playing.run_id]
        text = playing.streamed
        if state != "error" and (text or state == "final"):
            self._append(
                playing.session_key, "assistant", text, run_id=playing.run_id, stop=stop_reason
            )
        payload: dict[str, Any] = {"seq": playing.seq + 1, "stopReason": stop_reason}
        if state == "error":
            payload.update(errorMessage=error, errorKind=error_kind)
        else:
            payload["message"] = _assistant(text)
        self._chat(playing.run_id, playing.session_key, state, **payload)
        self._lifecycle(playing.run_id, playing.session_key, "error" if error else "end")
        self._save()

    async def _recover(self, text: str) -> None:
        """OpenClaw's main-session restart recovery: a run of its own answers the turn."""
        await asyncio.sleep(self.recovery_delay_s)
        run_id = f"recovery-{uuid.uuid4().hex[:8]}"
        self._lifecycle(run_id, MAIN_SESSION, "start")
        self._append(MAIN_SESSION, "user", RECOVERY_NOTICE)
        playing = _Playing(run_id, MAIN_SESSION, text, task=asyncio.current_task())
        self._playing[run_id] = playing
        pace = self.default if isinstance(self.default, Reply) else Reply()
        await self._stream(playing, self.answer(text), pace.chunks, pace.delay_s)
        self._end_run(playing, "final", stop_reason="stop")

    # --- frames and history --------------------------------------------------------------
    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        if self._up.is_set():
            self._router.dispatch(EventFrame(type="event", event=event, payload=payload))

    def _chat(self, run_id: str, session_key: str, state: str, **fields: Any) -> None:
        payload = {"runId": run_id, "sessionKey": session_key, "state": state}
        payload.update({k: v for k, v in fields.items() if v is not None})
        self._emit("chat", payload)

    def _lifecycle(self, run_id: str, session_key: str, phase: str) -> None:
        self._emit(
            "agent",
            {
                "runId": run_id,
                "sessionKey": session_key,
                "stream": "lifecycle",
                "data": {"phase": phase},
            },
        )

    def _stamped(self, text: str) -> str:
        moment = datetime.fromtimestamp(self.clock_ms() / 1000, UTC)
        return f"[{moment:%a %Y-%m-%d %H:%M} UTC] {text}"

    def _append(
        self,
        session_key: str,
        role: str,
        text: str,
        *,
        run_id: str | None = None,
        stop: str | None = None,
    ) -> str:
        message_id = uuid.uuid4().hex[:16]
        item: dict[str, Any] = {
            "role": role,
            "content": [{"type": "text", "text": text}],
            "timestamp": self.clock_ms(),
            "__openclaw": {"id": message_id, "runId": run_id},
        }
        if stop:
            item["stopReason"] = stop
        self.sessions.setdefault(session_key, []).append(item)
        self._save()
        return message_id

    def _save(self) -> None:
        if self.state_file is None:
            return
        state = {
            "sessions": self.sessions,
            "cron": self.cron_jobs,
            "keys": sorted(self._keys),
            "interrupted": self._interrupted,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(state))
        os.replace(scratch, self.state_file)

    def _load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        self.sessions = state.get("sessions", {})
        self.cron_jobs = state.get("cron", [])
        self._keys = set(state.get("keys", []))
        self._interrupted = state.get("interrupted", [])


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


# --- the process and the host --------------------------------------------------------------
@dataclass
class FakeGatewayProcess:
    """A `GatewayProcessHandle` (host.py) around a FakeGateway: start boots it with its
    state in OpenClaw's state dir, `kill()` crashes it."""

    gateway: FakeGateway
    state_dir: Path
    fail_ready: str | None = None
    """Set to make `wait_ready` fail (a gateway that exits before it is ready)."""
    starts: int = 0
    stops: int = 0

    @property
    def url(self) -> str:
        return "fake://openclaw"

    @property
    def pid(self) -> int | None:
        return None

    async def start(self) -> None:
        self.starts += 1
        self.gateway.state_file = self.state_dir / STATE_FILE
        await self.gateway.boot()

    async def wait_ready(self, timeout: float = 120.0) -> float:
        if self.fail_ready:
            raise GatewayError(self.fail_ready, code="GATEWAY_EXITED")
        return 0.0

    async def wait(self) -> int:
        return await self.gateway.exited()

    async def stop(self, timeout: float = 15.0) -> int | None:
        self.stops += 1
        return await self.gateway.shutdown()

    def kill(self) -> None:
        self.gateway.crash()


@dataclass
class FakeOpenClaw:
    """An `OpenClawHost` (host.py) with no Node: the supervisor's seam in unit tests.
    `calls` records, in order, what the supervisor asked of it and what the gateway did."""

    gateway: FakeGateway = field(default_factory=FakeGateway)
    calls: list[str] = field(default_factory=list)
    process_handle: FakeGatewayProcess | None = None

    def __post_init__(self) -> None:
        self.gateway.log = self.calls  # one record of the host's calls and the gateway's life

    async def install(self) -> None:
        self.calls.append("install")

    async def validate(self, state_dir: Path, env: Mapping[str, str]) -> list[str]:
        self.calls.append("validate")
        return []

    def process(
        self, *, state_dir: Path, port: int, env: Mapping[str, str], log_path: Path
    ) -> FakeGatewayProcess:
        self.calls.append("process")
        self.process_handle = FakeGatewayProcess(self.gateway, state_dir)
        return self.process_handle

    def client(
        self, url: str, token: str, *, state_dir: Path, on_event: EventListener | None
    ) -> FakeGateway:
        self.calls.append("client")
        self.gateway.listen(on_event)
        return self.gateway


if TYPE_CHECKING:  # the fakes keep the seams' shape (mypy checks these assignments)
    from .gateway import Gateway
    from .host import GatewayProcessHandle, OpenClawHost

    _gateway: Gateway = FakeGateway()
    _process: GatewayProcessHandle = FakeGatewayProcess(FakeGateway(), Path())
    _host: OpenClawHost = FakeOpenClaw()
