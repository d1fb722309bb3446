"""The agent task's PID 1: restore -> configure -> start OpenClaw -> connect -> bridge.

Replaces the seed's start-openclaw.sh. Three parts, each a method a test can drive:

- `start()`: the start-up phases, each reported to the task state and the person's browsers
  (the web UI shows them as progress): restoring memory (the manifest the task-state row
  names), configuring, starting OpenClaw, connecting; then Running.
- `serve()`: four background tasks — the bridge, the scheduler, the periodic state sync and
  the gateway monitor (restart with backoff, give up after a few tries) — awaited together,
  so none fails silently. A fenced write anywhere (D12) stops the task.
- `shutdown()`, always, in this order, well inside ECS's 120 s stopTimeout: stop taking jobs
  -> mark Stopping and tell the browsers -> let the current turn finish (bounded; otherwise
  its job goes back to the inbox and a new task is asked for) -> cancel the background tasks
  -> record the schedule (the watchdog wakes us for it) -> close the gateway connection and
  stop OpenClaw (consistent files) -> final state backup -> mark Idle. A fenced task skips
  every write: another launch owns the row, the inbox and the backup now. A stop while
  OpenClaw starts does not wait for it to be ready: it is stopped unready and, since nothing
  ran, no backup is written (the one restored stays current).

`run()` is the process around them: signal handlers only set the stop event (after uvicorn
and arq); the health server answers /health, /status, /shutdown. OpenClaw comes from an
`OpenClawHost` (the real Node one by default, `FakeOpenClaw` in unit tests), time from a
`Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.app.spending import Spending
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import (
    BackupUnreachable,
    Fenced,
    GatewayError,
    OpenClawError,
    RestoreFailed,
    StorageUnavailable,
    TransitionRejected,
)
from serverless_openclaw.loopback import free_port
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.runtime.installer import OpenClawRuntime
from serverless_openclaw.settings import AgentSettings
from serverless_openclaw.telegram.bot_api import AsyncBotApi

from . import configure, health
from .bridge import Bridge, BridgeOptions
from .clock import SYSTEM_CLOCK, Clock
from .delivery import ReplySink, ReplySinks, ShownReplies
from .metering import BudgetGuard, Meter
from .openclaw.gateway import Gateway
from .openclaw.host import GatewayProcessHandle, NodeOpenClaw, OpenClawHost
from .openclaw.protocol import EventFrame
from .prewarm import Prewarm, WarmGateway
from .privileges import Facts, PrivilegeEffects, PrivilegePlan, decide
from .reporter import AgentReporter, LaunchFence
from .scheduler import Scheduler
from .state_sync import BackupResult, StateSync, prepare_state_dir
from .waking import TypingWhileWaking, typing_for_wake

log = logging.getLogger(__name__)

RESTORING: Final = "restoring memory"
CONFIGURING: Final = "configuring"
STARTING: Final = "starting OpenClaw"
CONNECTING: Final = "connecting"
START_PHASES: Final = (RESTORING, CONFIGURING, STARTING, CONNECTING)
"""What the person sees while the agent wakes, in this order; then "running"."""


@dataclass
class Timings:
    """Seconds since the supervisor started, per start-up milestone (shown in /status)."""

    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.monotonic() - self.started, 3)


@dataclass(frozen=True)
class SupervisorOptions:
    """Every bound and delay of the supervisor; tests pass small ones."""

    restore_attempts: int = 3
    restore_backoff: tuple[float, float] = (1.0, 5.0)
    """(base, cap) seconds between restore attempts while the backup is unreachable."""
    ready_timeout_s: float = 240.0
    connect_timeout_s: float = 120.0
    max_gateway_restarts: int = 3
    restart_backoff: tuple[float, float] = (1.0, 10.0)
    schedule_timeout_s: float = 10.0
    gateway_stop_timeout_s: float = 15.0
    final_backup_timeout_s: float = 45.0
    bridge: BridgeOptions = field(default_factory=BridgeOptions)


class Supervisor:
    def __init__(
        self,
        settings: AgentSettings,
        ports: PortFactory,
        *,
        openclaw: OpenClawHost | None = None,
        runtime: OpenClawRuntime | None = None,
        clock: Clock = SYSTEM_CLOCK,
        options: SupervisorOptions | None = None,
        privileges: PrivilegeEffects | None = None,
    ) -> None:
        """`privileges`: given by the entry point only (`python -m …agent`), so that a test
        that builds a supervisor in its own process never drops that process's root."""
        if not settings.task_id:
            raise ValueError("SOC_TASK_ID (the launch id from the control plane) is required")
        self.settings = settings
        self.user_id = settings.user_id
        self.launch_id = settings.task_id
        self.ports = ports
        self.openclaw = openclaw or NodeOpenClaw(settings.openclaw_runtime_dir, runtime=runtime)
        self.clock = clock
        self.options = options or SupervisorOptions()
        self.timings = Timings()
        self.phase = "created"
        self.failure: str | None = None
        self.stop_reason: str | None = None
        self.fenced: Fenced | None = None
        self._stop = asyncio.Event()
        self._stopping = False
        self._running = False
        self._start_cut_short = False
        """A stop came while OpenClaw was starting: it was stopped before it was ready, so
        nothing ran since the restore and the last backup stays the one to restore."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.process: GatewayProcessHandle | None = None
        self.client: Gateway | None = None
        self.bridge: Bridge | None = None
        self.scheduler: Scheduler | None = None
        self.gateway_restarts = 0
        self._token = ""
        self._env: dict[str, str] = {}
        self.privileges = privileges
        self.plan = PrivilegePlan(separate=False, tools="safe")

        self.task_state = ports.task_state()
        self.conversations = ports.conversations()
        self.connections = ports.connections()
        self.user_settings = ports.user_settings()
        api = ports.connections_api()
        self.broadcaster = Broadcaster(self.connections, api) if api is not None else None
        self.reporter = AgentReporter(
            self.task_state, self.broadcaster, user_id=self.user_id, launch_id=self.launch_id
        )
        self.work_dir = settings.work_dir
        self.state_dir = settings.openclaw_state_dir
        self.gateway_port = settings.gateway_port or free_port()
        self.health_port = settings.health_port
        self.sync = StateSync(
            ports.state_blobs(settings.state_prefix),
            self.state_dir,
            fence=LaunchFence(self.task_state, user_id=self.user_id, launch_id=self.launch_id),
            file_access=privileges.file_access if privileges is not None else None,
        )
        token = settings.telegram.telegram_bot_token
        self.telegram = (
            AsyncBotApi(token, base_url=settings.telegram.telegram_api_base) if token else None
        )
        self.sinks = ReplySinks(
            user_id=self.user_id,
            connections=self.connections,
            broadcaster=self.broadcaster,
            telegram=self.telegram,
            telegram_links=ports.telegram(),
            shown=ShownReplies(self.task_state, user_id=self.user_id, launch_id=self.launch_id),
            clock=clock,
        )
        spending = Spending(ports.counters(), clock=clock.now)
        self.meter = Meter(self.user_id, spending, self.user_settings)
        self.budget = BudgetGuard(
            self.user_id,
            spending,
            self.user_settings,
            pause=self._pause_automations,
            notify=self._notify,
        )
        # Pre-warm only when nothing waits in the inbox once running and no scheduled job is
        # about to run (agent/prewarm.py).
        inbox = ports.inbox_consumer(settings.inbox_queue_url)
        self.prewarm = Prewarm(
            pending_jobs=inbox.depth,
            next_job_in=self._next_scheduled_job_in,
            port=settings.prewarm_port,
        )
        self.waking: TypingWhileWaking | None = None

    # --- the process -----------------------------------------------------------------------
    async def run(self) -> int:
        """The task's main: signals and the health server around `lifecycle()`."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        server, server_task, self.health_port = await health.serve(
            health.create_app(
                healthy=self.healthy,
                status=self.status,
                shutdown=lambda: self.request_stop("shutdown endpoint"),
            ),
            self.settings.health_port,
        )
        self._write_agent_file()
        try:
            return await self.lifecycle()
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await server_task
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def lifecycle(self) -> int:
        """start -> serve -> shutdown; the exit code (1 when the agent failed)."""
        exit_code = 0
        try:
            self.waking = await typing_for_wake(
                self.settings.wake_reason, self.telegram, self.ports.telegram(), self.user_id
            )
            if await self.start():
                await self.serve()
        except Fenced as exc:
            self._fence(exc)
        except (OpenClawError, OSError) as exc:
            log.error("agent failed: %s", exc)
            self.failure = str(exc)[:500]
            exit_code = 1
            with contextlib.suppress(OpenClawError):
                await self.reporter.failed(self.failure)
        finally:
            await self.shutdown()
        return exit_code

    def _write_agent_file(self) -> None:
        """Where to reach this agent locally (the dev stack and tests read it)."""
        info = {
            "pid": os.getpid(),
            "healthPort": self.health_port,
            "gatewayPort": self.gateway_port,
            "launchId": self.launch_id,
            "stateDir": str(self.state_dir),
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "agent.json").write_text(json.dumps(info) + "\n")

    def request_stop(self, reason: str = "requested") -> None:
        """Signal handlers and endpoints only set the event; the work happens in `run()`."""
        if self.stop_reason is None:
            self.stop_reason = reason
            log.info("stop requested (%s)", reason)
        self._stop.set()

    def _fence(self, exc: BaseException) -> None:
        """Another launch owns this user now (D12): stop, and write nothing more."""
        if self.fenced is None:
            log.error("this task is fenced: %s", exc)
            self.fenced = exc if isinstance(exc, Fenced) else Fenced(str(exc))
        self.request_stop(f"fenced: {exc}")

    def healthy(self) -> bool:
        return bool(self._running and self.client is not None and self.client.connected)

    def status(self) -> dict[str, Any]:
        last = self.sync.last_result
        return {
            "phase": self.phase,
            "running": self._running,
            "stopping": self._stopping,
            "fenced": self.fenced is not None,
            "timings": self.timings.marks,
            "gatewayPid": self.process.pid if self.process else None,
            "gatewayRestarts": self.gateway_restarts,
            "agentTools": self.plan.tools,
            "uidSeparation": self.plan.separate,
            "currentJob": self.bridge.current_job_id if self.bridge else None,
            "turns": [t.__dict__ for t in (self.bridge.turns[-20:] if self.bridge else [])],
            "lastBackup": None
            if last is None
            else {"at": last.at.isoformat(), "bytes": last.total_bytes, "uploaded": last.uploaded},
            "failure": self.failure,
            "prewarm": self.prewarm.result.__dict__ if self.prewarm.result else None,
        }

    # --- start-up --------------------------------------------------------------------------
    async def start(self) -> bool:
        """The start-up phases in order, each reported; False when asked to stop on the way."""
        steps: tuple[tuple[str, Callable[[], Awaitable[None]], str], ...] = (
            (RESTORING, self._restore, "restored"),
            (CONFIGURING, self._configure, "configured"),
            (STARTING, self._start_gateway, "gateway_ready"),
            (CONNECTING, self._connect, "connected"),
        )
        for phase, step, milestone in steps:
            if self._stop.is_set():
                return False
            self.phase = phase
            await self.reporter.phase(phase)
            await step()
            if self._start_cut_short:
                return False
            self.timings.mark(milestone)
        if self._stop.is_set():
            return False
        try:
            await self.reporter.running()
        except TransitionRejected:  # the person pressed stop while it was starting
            self.request_stop("stopped while starting")
            return False
        self.phase = "running"
        self._running = True
        self.timings.mark("running")
        log.info("agent running: %s", self.timings.marks)
        return True

    async def _restore(self) -> None:
        """The backup the task-state row names, retried while it is unreachable; any other
        failure stops the start (nothing may then overwrite the backup)."""
        prepare_state_dir(self.state_dir)
        backoff = Backoff(*self.options.restore_backoff)
        attempts = self.options.restore_attempts
        for attempt in range(1, attempts + 1):
            try:
                try:
                    row = await asyncio.to_thread(self.task_state.get, self.user_id)
                except StorageUnavailable as exc:
                    raise BackupUnreachable(f"the task state could not be read: {exc}") from exc
                await self.sync.restore(row.last_backup_manifest)
                return
            except BackupUnreachable as exc:
                if attempt == attempts:
                    raise BackupUnreachable(_not_started(exc)) from exc
                log.warning("restore attempt %d failed: %s", attempt, exc)
                await self.clock.sleep(backoff.next())
            except RestoreFailed as exc:
                raise type(exc)(_not_started(exc)) from exc

    async def _configure(self) -> None:
        await self.openclaw.install()
        user = await asyncio.to_thread(self.user_settings.get, self.user_id)
        provider = configure.model_choice(self.settings, user).provider
        self.plan = decide(
            self._facts(),
            tools=self.settings.agent_tools,
            provider=provider,
            embedded_store=self.settings.storage.backend == "embedded",
        )
        (log.warning if self.plan.reasons else log.info)("%s", self.plan.describe())
        self._token = configure.gateway_token(self.settings)
        self._env = configure.gateway_env(
            self.settings, self._token, provider=provider, separate=self.plan.separate
        )
        # A budget spent before this start keeps automations paused from the first second.
        try:
            budget, _ = await self.budget.state()
            self.budget.paused, self.budget.resumes_at = budget.paused, budget.resumes_at
        except StorageUnavailable as exc:
            log.warning("budget not checked at start (the first pass does): %s", exc)
        prewarm_url = await self.prewarm.open()
        # Not validated here: the gateway refuses a bad file itself (exit 78), and only then
        # is `openclaw config validate` asked for the issues (gateway_process.py).
        await asyncio.to_thread(
            configure.write_config,
            self.settings,
            user,
            port=self.gateway_port,
            env=self._env,
            tools=self.plan.tools,
            automations_paused=bool(self.budget.paused),
            prewarm_url=prewarm_url,
        )

    def _facts(self) -> Facts:
        if self.privileges is None:
            return Facts(os.geteuid(), None, None, disabled="uid separation not set up")
        layout = configure.gateway_layout(self.settings)
        runtime = getattr(self.openclaw, "runtime", None)
        installed = [runtime.node, runtime.entry] if runtime is not None else []
        return self.privileges.observe(
            reach=[*installed, layout.state_dir.parent, self.settings.work_dir]
        )

    async def _start_gateway(self) -> None:
        """Start OpenClaw; with the uid separation (agent/privileges.py) its dirs become its
        own first, and once it runs the supervisor drops root for good (bar the saved uid)."""
        layout = configure.gateway_layout(self.settings)
        run_as = None
        if self.privileges is not None and self.plan.separate:
            await asyncio.to_thread(self.privileges.prepare, self.plan, layout)
            run_as = self.privileges.gateway_user(self.plan)
        self.process = self.openclaw.process(
            state_dir=self.state_dir,
            port=self.gateway_port,
            env=self._env,
            log_path=layout.logs / "gateway.out",
            run_as=run_as,
        )
        await self.process.start()
        if self.privileges is not None:
            self.privileges.drop(self.plan)
        await self._ready_unless_stopped()

    async def _ready_unless_stopped(self) -> None:
        """Wait for OpenClaw to be ready, unless a stop comes first: a start is ~10 s of
        CPU that a stop pressed meanwhile (or a page that woke the agent and closed) would
        only throw away, and the stop would wait for it. The gateway then stops unready."""
        assert self.process is not None
        ready = asyncio.create_task(
            self.process.wait_ready(timeout=self.options.ready_timeout_s), name="gateway-ready"
        )
        stopped = asyncio.create_task(self._stop.wait(), name="stop-while-starting")
        try:
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if ready.done():
            ready.result()  # GatewayError when it exited or took too long
            return
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready
        self._start_cut_short = True
        log.info("stopped while OpenClaw was starting: its start is cut short")

    async def _connect(self) -> None:
        assert self.process is not None
        self.client = self.openclaw.client(
            self.process.url, self._token, state_dir=self.state_dir, on_event=self._on_event
        )
        await self.client.start(timeout=self.options.connect_timeout_s)

    # --- serving ---------------------------------------------------------------------------
    async def serve(self) -> None:
        """Until a stop is asked for or a background task fails (which is raised)."""
        if self._stop.is_set() or self.client is None or self.process is None:
            return
        self.bridge = Bridge(
            user_id=self.user_id,
            launch_id=self.launch_id,
            consumer=self.ports.inbox_consumer(self.settings.inbox_queue_url),
            gateway=self.client,
            conversations=self.conversations,
            reporter=self.reporter,
            sinks=self._sinks_for_job,
            backup=lambda: self.sync.backup(reason="after turn"),
            on_turn_done=self._after_turn,
            on_control=self._control,
            on_fatal=self._fence,
            options=self.options.bridge,
            clock=self.clock,
            meter=self.meter.record,
            refusal=self.budget.chat_refusal,
            attachments=self.ports.attachments(),
        )
        self.scheduler = Scheduler(
            user_id=self.user_id,
            launch_id=self.launch_id,
            gateway=self.client,
            reporter=self.reporter,
            conversations=self.conversations,
            user_settings=self.user_settings,
            sinks=self.sinks.proactive,
            own_runs=self.bridge.run_ids,
            clock=self.clock,
            meter=self.meter,
            budget=self.budget,
        )
        self.scheduler.poke()  # record the schedule the restored state brought back
        if isinstance(self.client, WarmGateway):  # one that can set a session's model
            self.prewarm.start(self.client)
        self._tasks = {
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.bridge.run(), name="bridge"),
            asyncio.create_task(self._sync_loop(), name="state-sync"),
            asyncio.create_task(self._monitor_gateway(), name="gateway-monitor"),
        }
        stop_waiter = asyncio.create_task(self._stop.wait(), name="stop-waiter")
        try:
            done, _ = await asyncio.wait(
                {*self._tasks, stop_waiter}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done - {stop_waiter}:
                task.result()  # surfaces the failure of a background task
                if not self._stop.is_set():  # e.g. the bridge stops receiving once fenced
                    raise GatewayError(f"{task.get_name()} ended unexpectedly")
        finally:
            stop_waiter.cancel()

    async def _pause_automations(self, paused: bool) -> None:
        """Rewrite `openclaw.json` with automations and the heartbeat paused (or as the person
        set them); the running gateway hot-reloads it."""
        user = await asyncio.to_thread(self.user_settings.get, self.user_id)
        await asyncio.to_thread(
            configure.write_config,
            self.settings,
            user,
            port=self.gateway_port,
            env=self._env,
            tools=self.plan.tools,
            automations_paused=paused,
        )

    async def _next_scheduled_job_in(self) -> float | None:
        """Seconds until OpenClaw's next scheduled job (None: none, or not running yet)."""
        return await self.scheduler.next_job_in() if self.scheduler is not None else None

    async def _notify(self, message_id: str, text: str) -> None:
        if self.scheduler is not None:
            await self.scheduler.tell(message_id, text)

    def _sinks_for_job(self, job: ChatJob) -> ReplySink:
        if job.replyTo.kind == "telegram" and self.waking is not None:
            self.waking.handed_over()  # the reply shows "typing…" from here on
        return self.sinks.for_job(job)

    def _after_turn(self) -> None:
        if self.scheduler is not None:
            self.scheduler.poke()

    def _on_event(self, frame: EventFrame) -> None:
        if self.scheduler is not None:
            self.scheduler.on_event(frame)

    async def _control(self, job: ControlJob) -> None:
        log.info("control job: %s", job.command)
        if job.command == "abort" and self.bridge is not None:
            await self.bridge.abort(job.conversationId)
        elif job.command == "backup":
            await self._backup("requested")
        elif job.command == "restart":
            await self._restart_gateway("restart requested")
        elif job.command == "stop":
            self.request_stop("stop requested")

    async def _sync_loop(self) -> None:
        """Every few minutes, beside the per-turn backups (OpenClaw also writes on its own:
        scheduled runs, memory consolidation)."""
        while True:
            await self.clock.sleep(self.settings.sync_interval_seconds)
            await self._backup("periodic")

    async def _backup(self, reason: str) -> BackupResult | None:
        """A backup whose storage failure is only logged (the next one retries); `Fenced`
        is raised."""
        try:
            return await self.sync.backup(reason=reason)
        except StorageUnavailable as exc:
            log.warning("backup (%s) failed, will retry: %s", reason, exc)
            return None

    async def _monitor_gateway(self) -> None:
        assert self.process is not None
        backoff = Backoff(*self.options.restart_backoff)
        while True:
            code = await self.process.wait()
            if self._stopping:
                return
            self.gateway_restarts += 1
            log.error("openclaw gateway exited with %s (restart %d)", code, self.gateway_restarts)
            if self.gateway_restarts > self.options.max_gateway_restarts:
                raise GatewayError(
                    f"OpenClaw keeps crashing (exit {code}); gave up after "
                    f"{self.options.max_gateway_restarts} restarts"
                )
            await self.clock.sleep(backoff.next())
            await self._restart_gateway(f"gateway exited with {code}", already_stopped=True)

    async def _restart_gateway(self, why: str, *, already_stopped: bool = False) -> None:
        assert self.process is not None
        log.warning("restarting OpenClaw: %s", why)
        self.phase = "restarting OpenClaw"
        await self.reporter.push("running", "restarting OpenClaw")
        if not already_stopped:
            await self.process.stop()
        await self.process.start()
        await self.process.wait_ready(timeout=self.options.ready_timeout_s)
        if self.client is not None:
            await self.client.wait_connected(timeout=self.options.connect_timeout_s)
        self.phase = "running"
        await self.reporter.push("running")

    # --- shutdown --------------------------------------------------------------------------
    async def shutdown(self) -> None:
        """Stop in the documented order (module docstring); every step is bounded."""
        self._stopping = True
        self._running = False
        self.phase = "stopping"
        if self.waking is not None:
            await self.waking.stop()
        await self.prewarm.aclose()
        writes = self.fenced is None
        # 1. Stop taking jobs; 2. say so (the row, the browsers).
        if self.bridge is not None:
            self.bridge.stop_receiving()
        if writes:
            with contextlib.suppress(Fenced, StorageUnavailable):
                await self.reporter.stopping(self.stop_reason or self.failure or "stopping")
        # 3. Drain: the current turn finishes, or its job goes back for a new task.
        if self.bridge is not None and not await self.bridge.drain(self.settings.drain_seconds):
            log.warning("the running turn was handed back to the inbox")
            if self.fenced is None:
                await self.reporter.wake_pending()
        writes = self.fenced is None  # the drained turn may have found the task fenced
        # 4. Cancel the background tasks.
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, OpenClawError):
                await task
        # 5. The last word on what is scheduled: the watchdog wakes us for it.
        if writes and self.scheduler is not None and self.client is not None:
            await self._last_schedule_pass()
        # 6. Close the connection and stop OpenClaw, so that its files are consistent.
        if self.client is not None:
            await self.client.close()
        if self.process is not None:
            await self.process.stop(timeout=self.options.gateway_stop_timeout_s)
        # 7. The final backup (none after a start cut short: nothing ran since the restore).
        if writes and self.sync.uploads_allowed and not self._start_cut_short:
            await self._final_backup()
        if self.telegram is not None:
            await self.telegram.aclose()
        # 8. Idle.
        if self.fenced is None:
            with contextlib.suppress(OpenClawError):
                await self.reporter.idle(self.failure)
        self.phase = "stopped"
        log.info("agent stopped (%s)", self.stop_reason or self.failure or "done")

    async def _last_schedule_pass(self) -> None:
        assert self.scheduler is not None
        assert self.client is not None
        if not self.client.connected:
            return
        try:
            await asyncio.wait_for(self.scheduler.deliver_new(), self.options.schedule_timeout_s)
            await asyncio.wait_for(
                self.scheduler.refresh_schedule(), self.options.schedule_timeout_s
            )
        except Fenced as exc:
            self._fence(exc)
        except (TimeoutError, OpenClawError) as exc:
            log.warning("could not record the schedule before stopping: %s", exc)

    async def _final_backup(self) -> None:
        try:
            await asyncio.wait_for(
                self._backup("shutdown"), timeout=self.options.final_backup_timeout_s
            )
        except TimeoutError:
            log.error("final backup did not finish in %.0f s", self.options.final_backup_timeout_s)
        except Fenced as exc:
            self._fence(exc)


def _not_started(exc: RestoreFailed) -> str:
    return (
        f"{exc} — the agent did not start, so nothing can overwrite your backup; "
        "your messages wait in the inbox"
    )
