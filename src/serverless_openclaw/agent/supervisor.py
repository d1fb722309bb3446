"""The agent task's PID 1: restore -> configure -> start OpenClaw -> connect -> bridge.

Replaces the seed's start-openclaw.sh. Each start-up phase is reported to the task state (the
web UI shows it as progress). While running it owns four background tasks — the bridge, the
state sync loop, the gateway monitor (restart with backoff, give up after a few tries) and the
health server — and awaits them, so none fails silently.

Shutdown (SIGTERM from a Spot interruption or StopTask, SIGINT, /shutdown, a stop job), after
uvicorn and arq: the signal handler only sets an event; then, in a fixed order and well inside
ECS's 120 s stopTimeout: tell the browsers -> stop taking jobs -> let the current turn finish
(bounded; otherwise its job goes back to the inbox) -> close the gateway socket and stop
OpenClaw (consistent files) -> final state sync -> mark Idle -> exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import UserSettings
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.errors import (
    GatewayError,
    OpenClawError,
    RestoreFailed,
    StorageUnavailable,
)
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.runtime.installer import OpenClawRuntime, install, locate
from serverless_openclaw.settings import AgentSettings, environ_snapshot
from serverless_openclaw.telegram.bot_api import AsyncBotApi

from . import health
from .bridge import Bridge, BridgeOptions
from .delivery import FanOut, ReplySink, TelegramReply, WebReply
from .openclaw import config as oc_config
from .openclaw.client import GatewayClient
from .openclaw.device import DeviceIdentity
from .openclaw.gateway_process import GatewayProcess, gateway_environment
from .openclaw.protocol import EventFrame
from .prewarm import Prewarm
from .reporter import AgentReporter, Superseded
from .scheduler import Scheduler
from .state_sync import BackupResult, StateSync, prepare_state_dir
from .waking import TypingWhileWaking, typing_for_wake

log = logging.getLogger(__name__)

PROVIDER_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Timings:
    """Seconds since the supervisor started, per start-up milestone (shown in /status)."""

    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.monotonic() - self.started, 3)


class Supervisor:
    def __init__(
        self,
        settings: AgentSettings,
        ports: PortFactory,
        *,
        runtime: OpenClawRuntime | None = None,
    ) -> None:
        if not settings.task_id:
            raise ValueError("SOC_TASK_ID (the launch id from the control plane) is required")
        self.settings = settings
        self.launch_id = settings.task_id
        self.ports = ports
        self._runtime = runtime
        self.timings = Timings()
        self.phase = "created"
        self.failure: str | None = None
        self.stop_reason: str | None = None
        self._stop: asyncio.Event | None = None
        self._sync_poke: asyncio.Event | None = None
        self._stopping = False
        self._running = False
        self.process: GatewayProcess | None = None
        self.client: GatewayClient | None = None
        self.bridge: Bridge | None = None
        self.scheduler: Scheduler | None = None
        self.gateway_restarts = 0

        self.task_state = ports.task_state()
        self.conversations = ports.conversations()
        self.connections = ports.connections()
        self.user_settings = ports.user_settings()
        self.telegram_links = ports.telegram()
        api = ports.connections_api()
        self.broadcaster = Broadcaster(self.connections, api) if api is not None else None
        self.reporter = AgentReporter(
            self.task_state, self.broadcaster, user_id=settings.user_id, launch_id=self.launch_id
        )
        self.work_dir = settings.work_dir
        self.state_dir = settings.openclaw_state_dir
        self.gateway_port = settings.gateway_port or free_port()
        self.health_port = settings.health_port
        self.sync = StateSync(ports.state_blobs(settings.state_prefix), self.state_dir)
        token = settings.telegram.telegram_bot_token
        self.telegram = (
            AsyncBotApi(token, base_url=settings.telegram.telegram_api_base) if token else None
        )
        # Pre-warm only when nothing waits in the inbox once running (agent/prewarm.py).
        self.prewarm = Prewarm(pending_jobs=lambda: ports.inbox().depth(settings.user_id))
        self.waking: TypingWhileWaking | None = None

    # --- entry point -----------------------------------------------------------------------
    async def run(self) -> int:
        self._stop = asyncio.Event()
        self._sync_poke = asyncio.Event()
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
        exit_code = 0
        try:
            self.waking = await typing_for_wake(
                self.settings.wake_reason, self.telegram, self.telegram_links, self.settings.user_id
            )
            await self._start()
            await self._serve()
        except (OpenClawError, OSError) as exc:
            log.error("agent failed: %s", exc)
            self.failure = str(exc)[:500]
            exit_code = 1
            with contextlib.suppress(OpenClawError):
                await self.reporter.failed(self.failure)
        finally:
            await self._shutdown()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await server_task
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
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
        if self._stop is not None:
            self._stop.set()

    def healthy(self) -> bool:
        return bool(self._running and self.client is not None and self.client.connected)

    def status(self) -> dict[str, Any]:
        last = self.sync.last_result
        return {
            "phase": self.phase,
            "running": self._running,
            "stopping": self._stopping,
            "timings": self.timings.marks,
            "gatewayPid": self.process.pid if self.process else None,
            "gatewayRestarts": self.gateway_restarts,
            "currentJob": self.bridge.current_job_id if self.bridge else None,
            "turns": [t.__dict__ for t in (self.bridge.turns[-20:] if self.bridge else [])],
            "lastBackup": None
            if last is None
            else {"at": last.at.isoformat(), "bytes": last.total_bytes, "uploaded": last.uploaded},
            "failure": self.failure,
            "prewarm": self.prewarm.result.__dict__ if self.prewarm.result else None,
        }

    # --- start-up --------------------------------------------------------------------------
    async def _phase(self, name: str) -> None:
        self.phase = name
        await self.reporter.phase(name)

    async def _start(self) -> None:
        await self._phase("restoring memory")
        prepare_state_dir(self.state_dir)
        await self._restore_with_retries()
        self.timings.mark("restored")
        if self._stop_requested():
            return

        await self._phase("configuring")
        runtime = self._runtime or locate(self.settings.openclaw_runtime_dir)
        if runtime is None:
            runtime = await asyncio.to_thread(install, self.settings.openclaw_runtime_dir)
        user = await asyncio.to_thread(self.user_settings.get, self.settings.user_id)
        token = (
            self.settings.gateway_token.get_secret_value()
            if self.settings.gateway_token
            else secrets.token_urlsafe(32)
        )
        env = self._gateway_env(token)
        prewarm_url = await self.prewarm.open()
        await asyncio.to_thread(self._write_config, user, env, prewarm_url)
        self.timings.mark("configured")
        if self._stop_requested():
            return

        await self._phase("starting OpenClaw")
        self.process = GatewayProcess(
            runtime, self.state_dir, self.gateway_port, env, self.work_dir / "logs" / "gateway.out"
        )
        await self.process.start()
        await self.process.wait_ready(timeout=240)
        self.timings.mark("gateway_ready")

        await self._phase("connecting")
        self.client = GatewayClient(
            self.process.url,
            token,
            identity=DeviceIdentity.load_or_create(self.state_dir),
            backoff=Backoff(base=0.2, cap=5.0),
            on_event=self._on_gateway_event,
        )
        await self.client.start(timeout=120)
        self.timings.mark("connected")

        self.phase = "running"
        await self.reporter.running()
        self._running = True
        self.timings.mark("running")
        log.info("agent running: %s", self.timings.marks)

    def _stop_requested(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _restore_with_retries(self, attempts: int = 3) -> None:
        backoff = Backoff(base=1.0, cap=5.0)
        for attempt in range(1, attempts + 1):
            try:
                await self.sync.restore()
                return
            except RestoreFailed as exc:
                if attempt == attempts or "corrupt" in str(exc) or "no usable" in str(exc):
                    raise RestoreFailed(
                        f"{exc} — the agent did not start, so nothing can overwrite your "
                        "backup; your messages wait in the inbox"
                    ) from exc
                log.warning("restore attempt %d failed: %s", attempt, exc)
                await asyncio.sleep(backoff.next())

    def _gateway_env(self, token: str) -> dict[str, str]:
        model = self.settings.model
        custom_key = model.model_api_key.get_secret_value() if model.model_api_key else None
        home = self.work_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        return gateway_environment(
            environ_snapshot(),
            state_dir=self.state_dir,
            home=home,
            token=token,
            custom_api_key=custom_key,
            include_aws=model.model_provider == "bedrock",
        )

    def model_choice(self, user: UserSettings) -> oc_config.ModelChoice:
        model = self.settings.model
        provider = user.modelProvider or model.model_provider
        return oc_config.ModelChoice(
            provider=provider,
            model_id=user.modelId or model.model_id,
            base_url=model.model_base_url,
            region=self.settings.names.region,
        )

    def _write_config(
        self, user: UserSettings, env: dict[str, str], prewarm_url: str | None
    ) -> None:
        choice = self.model_choice(user)
        key_var = PROVIDER_KEYS.get(choice.provider)
        if key_var and not env.get(key_var):
            raise oc_config.ConfigInvalid(
                f"{choice.provider} is selected but {key_var} is not set for the agent", []
            )
        heartbeat = oc_config.HeartbeatChoice(
            policy=user.heartbeat,
            active_start=f"{user.activeHoursStart:02d}:00",
            active_end=f"{user.activeHoursEnd:02d}:00",
        )
        path = self.state_dir / "openclaw.json"
        patched = oc_config.patch_config(
            oc_config.read_config(path),
            port=self.gateway_port,
            model=choice,
            heartbeat=heartbeat,
            log_file=self.work_dir / "logs" / "openclaw.log",
            prewarm_url=prewarm_url,
        )
        # Not validated here: the gateway refuses a bad file itself (exit 78), and only then
        # is `openclaw config validate` asked for the issues (gateway_process.py).
        oc_config.write_config(path, patched)

    # --- running ---------------------------------------------------------------------------
    def _sinks(self, job: ChatJob) -> ReplySink:
        sinks: list[ReplySink] = []
        if self.broadcaster is not None:
            sinks.append(
                WebReply(
                    self.broadcaster,
                    self.connections,
                    user_id=job.userId,
                    message_id=job.jobId,
                    conversation_id=job.conversationId,
                )
            )
        if job.replyTo.kind == "telegram" and self.telegram is not None:
            sinks.append(TelegramReply(self.telegram, job.replyTo.chatId, job.replyTo.messageId))
            if self.waking is not None:
                self.waking.handed_over()  # the reply shows "typing…" from here on
        return FanOut(sinks)

    def _poke_sync(self) -> None:
        if self._sync_poke is not None:
            self._sync_poke.set()
        if self.scheduler is not None:
            self.scheduler.poke()

    def _on_gateway_event(self, frame: EventFrame) -> None:
        if self.scheduler is not None:
            self.scheduler.on_event(frame)

    def _proactive_sinks(self, message_id: str) -> ReplySink:
        sinks: list[ReplySink] = []
        if self.broadcaster is not None:
            sinks.append(
                WebReply(
                    self.broadcaster,
                    self.connections,
                    user_id=self.settings.user_id,
                    message_id=message_id,
                    conversation_id=MAIN_CONVERSATION_ID,
                    proactive=True,
                )
            )
        if self.telegram is not None:
            try:
                link = self.telegram_links.link_of_user(self.settings.user_id)
            except StorageUnavailable as exc:
                log.warning("could not read the Telegram link: %s", exc)
                link = None
            if link is not None:
                sinks.append(TelegramReply(self.telegram, link.chatId, None))
        return FanOut(sinks)

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

    async def _serve(self) -> None:
        if self._stop_requested() or self.client is None or self.process is None:
            return
        self.bridge = Bridge(
            user_id=self.settings.user_id,
            consumer=self.ports.inbox_consumer(self.settings.inbox_queue_url),
            gateway=self.client,
            conversations=self.conversations,
            reporter=self.reporter,
            sinks=self._sinks,
            on_turn_done=self._poke_sync,
            on_control=self._control,
            on_fatal=lambda exc: self.request_stop(f"superseded: {exc}"),
            options=BridgeOptions(),
        )
        self.scheduler = Scheduler(
            user_id=self.settings.user_id,
            gateway=self.client,
            reporter=self.reporter,
            conversations=self.conversations,
            user_settings=self.user_settings,
            sinks=self._proactive_sinks,
            own_runs=self.bridge.run_ids,
        )
        self.scheduler.poke()  # record the schedule the restored state brought back
        self.prewarm.start(self.client)
        assert self._stop is not None
        tasks = {
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.bridge.run(), name="bridge"),
            asyncio.create_task(self._sync_loop(), name="state-sync"),
            asyncio.create_task(self._monitor_gateway(), name="gateway-monitor"),
        }
        stop_waiter = asyncio.create_task(self._stop.wait(), name="stop-waiter")
        try:
            done, _ = await asyncio.wait({*tasks, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_waiter:
                    task.result()  # surfaces the failure of a background task
                    raise GatewayError(f"{task.get_name()} ended unexpectedly")
        finally:
            self._stopping = True
            self.bridge.stop_receiving()
            await self.reporter.stopping(self.stop_reason or "stopping")
            drained = await self.bridge.drain(self.settings.drain_seconds)
            if not drained:
                log.warning("the running turn was handed back to the inbox")
                # A new task should answer it once this one is gone.
                await self.reporter.wake_pending()
            for task in (*tasks, stop_waiter):
                task.cancel()
            for task in (*tasks, stop_waiter):
                with contextlib.suppress(asyncio.CancelledError, OpenClawError):
                    await task

    async def _sync_loop(self) -> None:
        assert self._sync_poke is not None
        while True:
            reason = "periodic"
            try:
                await asyncio.wait_for(
                    self._sync_poke.wait(), timeout=self.settings.sync_interval_seconds
                )
                reason = "after turn"
                await asyncio.sleep(self.settings.sync_debounce_seconds)
            except TimeoutError:
                pass
            self._sync_poke.clear()
            await self._backup(reason)

    async def _backup(self, reason: str) -> BackupResult | None:
        try:
            result = await self.sync.backup(reason=reason)
        except StorageUnavailable as exc:
            log.warning("backup (%s) failed, will retry: %s", reason, exc)
            return None
        if not result.skipped:
            try:
                await self.reporter.backup(result.at, result.total_bytes)
            except (StorageUnavailable, Superseded) as exc:
                log.warning("backup done but not recorded: %s", exc)
        return result

    async def _monitor_gateway(self, max_restarts: int = 3) -> None:
        assert self.process is not None
        backoff = Backoff(base=1.0, cap=10.0)
        while True:
            code = await self.process.wait()
            if self._stopping:
                return
            self.gateway_restarts += 1
            log.error("openclaw gateway exited with %s (restart %d)", code, self.gateway_restarts)
            if self.gateway_restarts > max_restarts:
                raise GatewayError(
                    f"OpenClaw keeps crashing (exit {code}); gave up after {max_restarts} restarts"
                )
            await asyncio.sleep(backoff.next())
            await self._restart_gateway(f"gateway exited with {code}", already_stopped=True)

    async def _restart_gateway(self, why: str, *, already_stopped: bool = False) -> None:
        assert self.process is not None
        log.warning("restarting OpenClaw: %s", why)
        self.phase = "restarting OpenClaw"
        await self.reporter.push("running", "restarting OpenClaw")
        if not already_stopped:
            await self.process.stop()
        await self.process.start()
        await self.process.wait_ready(timeout=240)
        if self.client is not None:
            await self.client.wait_connected(timeout=120)
        self.phase = "running"
        await self.reporter.push("running")

    # --- shutdown --------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        self._stopping = True
        self._running = False
        self.phase = "stopping"
        if self.waking is not None:
            await self.waking.stop()
        await self.prewarm.aclose()
        if self.scheduler is not None and self.client is not None and self.client.connected:
            # The last word on what is scheduled: the watchdog wakes us for it.
            try:
                await asyncio.wait_for(self.scheduler.deliver_new(), 10)
                await asyncio.wait_for(self.scheduler.refresh_schedule(), 10)
            except (TimeoutError, OpenClawError) as exc:
                log.warning("could not record the schedule before stopping: %s", exc)
        if self.client is not None:
            await self.client.close()
        if self.process is not None:
            await self.process.stop(timeout=15)
        if self.sync.uploads_allowed:
            try:
                await asyncio.wait_for(self._backup("shutdown"), timeout=45)
            except TimeoutError:
                log.error("final backup did not finish in 45 s")
        if self.telegram is not None:
            await self.telegram.aclose()
        with contextlib.suppress(OpenClawError):
            await self.reporter.idle(self.failure)
        self.phase = "stopped"
        log.info("agent stopped (%s)", self.stop_reason or self.failure or "done")
