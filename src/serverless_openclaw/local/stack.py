"""`serverless-openclaw dev` as a library: the whole product on one machine.

Pieces (ARCHITECTURE.md, "Request flow (local)"): a backend — `embedded` (SQLite under the
state dir, the local identity provider, agents as child processes; the default) or `aws`
(moto + the ECS emulator; what CI proves the boto3 code with) — the API Gateway emulator
(WebSocket + @connections + HTTP API + the site + the local Cognito endpoint), the watchdog
tick, the offline model when no LLM key is configured, and the fake Telegram Bot API (or a
getUpdates poller with a real bot token).

The Lambda handlers run in this process, unchanged; their `Services` come from
`local.wiring.wire_local*` (no handler reads this process's environment). Agent tasks get their
settings through their environment, as on ECS.

Ports: the stack's one public port (`--port`, default 8800) carries the web app and every API;
the `aws` backend's moto listens on the next one. Both are bound before anything starts, so a
taken port is one clear error (`PortInUse`), never a server thread that died unnoticed.
Internal servers (offline model, fake Telegram) take free ports and are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from serverless_openclaw import wiring
from serverless_openclaw.adapters.embedded.compute import reap_leftovers
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import Conflict
from serverless_openclaw.local.wiring import LOCAL_STAGE, local_handler_settings
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import AuthSettings, DevSettings, HandlerSettings

from .apigw_emulator import ApiGatewayEmulator, Routes
from .lambda_runtime import LambdaRuntime, configure_powertools
from .serve import ServerHandle, bind, serve_task

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
FAKE_BOT_TOKEN = "123456789:local-fake-telegram-bot-token"  # noqa: S105 - the fake bot


def default_web_dir() -> Path | None:
    candidate = Path(__file__).resolve().parents[3] / "web" / "dist"
    return candidate if (candidate / "index.html").exists() else None


class LocalBackend(Protocol):
    """What differs between `--backend embedded` and `--backend aws`."""

    name: str
    restored: bool

    def check_ports(self) -> None: ...

    async def start(self) -> None: ...

    @property
    def webhook_secret(self) -> str: ...

    def put_secrets(self, bot_token: str) -> None: ...

    async def start_compute(
        self,
        *,
        command: Sequence[str],
        environment: dict[str, str],
        stop_timeout_s: float,
        serve: Callable[[ASGIApp], Awaitable[ServerHandle]],
    ) -> None: ...

    def auth(self, api_url: str) -> AuthSettings: ...

    def issuer(self, api_url: str) -> str: ...

    def site_auth(self, api_url: str) -> dict[str, Any]: ...

    def routes(self) -> list[BaseRoute]: ...

    def wire(self, handler_settings: HandlerSettings) -> Services: ...

    def wire_watchdog(self, handler_settings: HandlerSettings) -> Services:
        """The watchdog's own Services (its own principal where IAM is enforced)."""
        ...

    def users(self) -> UserDirectory: ...

    def first_user(self, username: str) -> dict[str, str] | None: ...

    def describe(self) -> dict[str, Any]: ...

    async def background(self, stop: asyncio.Event) -> None: ...

    def stop_agents(self, timeout_s: float, force: threading.Event) -> None: ...

    def kill_agents(self) -> None: ...

    async def stop(self) -> str: ...


@dataclass
class DevEndpoints:
    url: str
    ws_url: str
    backend: str
    region: str
    prefix: str
    user_pool_id: str
    user_pool_client_id: str
    cognito_endpoint: str
    model_provider: str
    offline_model_url: str | None = None
    telegram_api_base: str | None = None
    telegram_bot_token: str | None = None
    """Only the fake bot's token is written here; a real token never is."""
    telegram_webhook_secret: str | None = None
    web_built: bool = False
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    first_user: dict[str, str] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """What `dev.json` says (tests and `serverless-openclaw user` read it)."""
        data = asdict(self)
        data.pop("first_user")
        extra = data.pop("extra")
        return {**data, **extra, "pid": os.getpid()}


class StateDirLock:
    """One stack per state dir: two would run two agents per user against one database.
    An advisory lock on a file, released by the kernel however the process ends."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "dev.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the stack's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise Conflict(
                f"another `serverless-openclaw dev` is using {self.path.parent}"
            ) from exc
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class DevStack:
    def __init__(
        self,
        settings: DevSettings,
        *,
        progress: Progress = lambda _: None,
        agent_env: Mapping[str, str] | None = None,
        agent_command: list[str] | None = None,
        agent_stop_timeout_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.agent_env = dict(agent_env or {})
        self.agent_command = agent_command or [sys.executable, "-m", "serverless_openclaw.agent"]
        self.agent_stop_timeout_s = agent_stop_timeout_s
        self.state_dir = settings.state_dir.resolve()
        configure_powertools()
        self.runtime = LambdaRuntime(region=settings.region)
        self.backend: LocalBackend = self._backend()
        self.emulator: ApiGatewayEmulator | None = None
        self.fake_telegram: Any = None
        self.endpoints: DevEndpoints | None = None
        self.services: Services | None = None
        self.watchdog_services: Services | None = None
        self._lock = StateDirLock(self.state_dir)
        self._api_socket: socket.socket | None = None
        self._servers: list[tuple[ServerHandle, asyncio.Task[None]]] = []
        self._background: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self.force = threading.Event()
        """Set by a second Ctrl+C: stop without waiting for agents."""

    def _backend(self) -> LocalBackend:
        if self.settings.backend == "aws":
            from .aws_backend import AwsLocalBackend

            return AwsLocalBackend(self.settings, self.state_dir, self.progress)
        from .embedded_backend import EmbeddedLocalBackend

        return EmbeddedLocalBackend(self.settings, self.state_dir, self.progress)

    # --- start -----------------------------------------------------------------------------
    async def start(self) -> DevEndpoints:
        s = self.settings
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock.acquire()
        # Every port first: a taken one fails here, before anything else runs.
        self._api_socket = bind(s.host, s.port, "the web app and APIs; choose another --port")
        self.backend.check_ports()
        url = f"http://{s.host}:{s.port}"
        self.progress(f"state in {self.state_dir} (backend: {self.backend.name})")
        if leftovers := await asyncio.to_thread(reap_leftovers, self.state_dir / "tasks"):
            self.progress(f"ended {len(leftovers)} processes left by an earlier run")
        await self.backend.start()

        provider = s.resolved_provider()
        offline_url = None
        if provider == "offline":
            from .offline_model import create_app as offline_app

            handle = await self._serve(offline_app())
            offline_url = handle.url
            self.progress(f"offline model on {handle.url} (no LLM key configured)")
        else:
            self.progress(f"model provider: {provider}")
        telegram_base, bot_token = await self._telegram()

        await self.backend.start_compute(
            command=self.agent_command,
            environment=self._agent_environment(
                provider=provider,
                offline_url=offline_url,
                telegram_base=telegram_base,
                bot_token=bot_token,
                connections_url=f"{url}/{LOCAL_STAGE}",
            ),
            stop_timeout_s=self.agent_stop_timeout_s,
            serve=self._serve,
        )
        handler_settings = local_handler_settings(
            s,
            api_url=url,
            auth=self.backend.auth(url),
            telegram_api_base=telegram_base,
        )
        self.services = self.backend.wire(handler_settings)
        self.watchdog_services = self.backend.wire_watchdog(handler_settings)
        wiring.reset(self.services)
        await asyncio.to_thread(self.backend.put_secrets, bot_token)

        self.emulator = self._emulator(url)
        handle = await self._serve(self.emulator.app, sock=self._api_socket)
        web_dir = s.web_dir or default_web_dir()
        self.progress(
            f"web app and APIs on {handle.url} (WebSocket {handle.ws_url}/ws)"
            + ("" if web_dir else " — web app not built")
        )
        if self.fake_telegram is not None:
            await self._register_fake_webhook(telegram_base, bot_token, url)

        auth = self.backend.site_auth(url)
        self.endpoints = DevEndpoints(
            url=url,
            ws_url=f"ws://{s.host}:{s.port}/ws",
            backend=self.backend.name,
            region=s.region,
            prefix=s.prefix,
            user_pool_id=str(auth["userPoolId"]),
            user_pool_client_id=str(auth["userPoolClientId"]),
            cognito_endpoint=str(auth["cognitoEndpoint"]),
            model_provider=provider,
            offline_model_url=offline_url,
            telegram_api_base=telegram_base,
            telegram_bot_token=bot_token if self.fake_telegram is not None else None,
            telegram_webhook_secret=self.backend.webhook_secret,
            web_built=web_dir is not None,
            restored=self.backend.restored,
            extra=self.backend.describe(),
        )
        self.endpoints.first_user = await asyncio.to_thread(self.backend.first_user, s.first_user)
        info = self.state_dir / "dev.json"
        tmp = info.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.endpoints.public(), indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(info)

        await self._watchdog_tick()  # reconcile rows left over from an earlier run
        self._background.append(asyncio.create_task(self._watchdog_loop(), name="watchdog"))
        self._background.append(
            asyncio.create_task(self.backend.background(self._stop), name="backend")
        )
        if self.settings.telegram_bot_token is not None:
            self._background.append(asyncio.create_task(self._poll_telegram(), name="tg-poller"))
        return self.endpoints

    def _agent_environment(
        self,
        *,
        provider: str,
        offline_url: str | None,
        telegram_base: str,
        bot_token: str,
        connections_url: str,
    ) -> dict[str, str]:
        """The task definition's environment (both backends add where their data is)."""
        env = {
            "SOC_HEALTH_PORT": "0",
            "SOC_GATEWAY_PORT": "0",
            "SOC_PREWARM_PORT": "0",
            "SOC_MODEL_PROVIDER": provider,
            "SOC_CONNECTIONS_URL": connections_url,
            "SOC_TELEGRAM_API_BASE": telegram_base,
            # On ECS the token comes from SSM through the task definition's `secrets`.
            "SOC_TELEGRAM_BOT_TOKEN": bot_token,
            "SOC_SYNC_INTERVAL_SECONDS": str(self.settings.agent_sync_interval_seconds),
            # Each user's OpenClaw state dir keeps its path from task to task, as in the
            # container (OpenClaw keys scheduled jobs by that path).
            "SOC_AGENT_STATE_ROOT": str(self.state_dir / "agents"),
            "PYTHONUNBUFFERED": "1",
        }
        if self.settings.model_id:
            env["SOC_MODEL_ID"] = self.settings.model_id
        if offline_url:
            env["SOC_MODEL_BASE_URL"] = f"{offline_url}/v1"
        elif self.settings.model_base_url:
            env["SOC_MODEL_BASE_URL"] = self.settings.model_base_url
        for name, secret in (
            ("ANTHROPIC_API_KEY", self.settings.anthropic_api_key),
            ("OPENAI_API_KEY", self.settings.openai_api_key),
            ("SOC_MODEL_API_KEY", self.settings.model_api_key),
        ):
            if secret is not None:
                env[name] = secret.get_secret_value()
        env.update(self.settings.agent_env)
        env.update(self.agent_env)
        return env

    async def _serve(self, app: ASGIApp, *, sock: socket.socket | None = None) -> ServerHandle:
        handle, task = await serve_task(app, host=self.settings.host, sock=sock)
        self._servers.append((handle, task))
        return handle

    async def _telegram(self) -> tuple[str, str]:
        if self.settings.telegram_bot_token is not None:
            self.progress("Telegram: real bot, polling getUpdates (no public URL needed)")
            return "https://api.telegram.org", self.settings.telegram_bot_token.get_secret_value()
        from .fake_telegram import FakeTelegram

        self.fake_telegram = FakeTelegram(token=FAKE_BOT_TOKEN)
        handle = await self._serve(self.fake_telegram.app)
        self.progress(f"Telegram: local fake Bot API on {handle.url}")
        return handle.url, FAKE_BOT_TOKEN

    async def _register_fake_webhook(self, base: str, token: str, url: str) -> None:
        from serverless_openclaw.telegram import bot_api as tg

        api = tg.AsyncBotApi(token, base_url=base)
        try:
            await api.call(
                tg.set_webhook(f"{url}/telegram/webhook", secret_token=self.backend.webhook_secret)
            )
        finally:
            await api.aclose()

    def _emulator(self, url: str) -> ApiGatewayEmulator:
        from serverless_openclaw.gateway import (
            http_api,
            telegram_webhook,
            ws_connect,
            ws_disconnect,
            ws_message,
        )

        site = {
            "region": self.settings.region,
            **self.backend.site_auth(url),
            "wsUrl": f"ws://{self.settings.host}:{self.settings.port}/ws",
            "httpUrl": url,
        }

        def site_config(_: Any) -> dict[str, Any]:
            return site

        return ApiGatewayEmulator(
            Routes(
                ws_connect=ws_connect.handler,
                ws_message=ws_message.handler,
                ws_disconnect=ws_disconnect.handler,
                http_api=http_api.handler,
                telegram_webhook=telegram_webhook.handler,
            ),
            stage=LOCAL_STAGE,
            site_dir=self.settings.web_dir or default_web_dir(),
            site_config=site_config,
            runtime=self.runtime,
            mounts=self.backend.routes(),
        )

    # --- background ------------------------------------------------------------------------
    async def _watchdog_tick(self) -> None:
        from serverless_openclaw.gateway import watchdog

        event = {
            "version": "0",
            "id": secrets.token_hex(16),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": self.settings.region,
            "resources": [
                f"arn:aws:events:{self.settings.region}:000000000000:rule/soc-dev-watchdog"
            ],
            "detail": {},
        }
        handler = watchdog.handler
        own, shared = self.watchdog_services, self.services
        if own is not None and own is not shared:

            def handler(event: Any, context: Any) -> Any:
                # The runtime runs one invocation at a time: the container's Services are
                # the watchdog's for this one (as its own Lambda would have them).
                wiring.reset(own)
                try:
                    return watchdog.handler(event, context)
                finally:
                    wiring.reset(shared)

        try:
            await self.runtime.invoke("watchdog", handler, event, 60.0)
        except Exception:
            log.exception("watchdog tick failed")

    async def _watchdog_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_seconds)
            await self._watchdog_tick()

    async def _poll_telegram(self) -> None:
        from serverless_openclaw.telegram import bot_api as tg

        from .telegram_poller import TelegramPoller

        assert self.settings.telegram_bot_token is not None
        api = tg.AsyncBotApi(self.settings.telegram_bot_token)
        try:
            from serverless_openclaw.gateway import telegram_webhook

            poller = TelegramPoller(
                api,
                self.runtime.serialized("telegram_webhook", telegram_webhook.handler),
                secret=self.backend.webhook_secret,
            )
            await poller.run(self._stop)
        finally:
            await api.aclose()

    # --- stop ------------------------------------------------------------------------------
    async def stop(self, *, drain_s: float | None = None) -> None:
        """Stop taking requests' background work, stop the agents (each finishes its turn and
        backs up, for at most `drain_s`; `force` cuts that short), stop the servers, close
        the backend. Safe to call after a failed start."""
        self._stop.set()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        timeout = self.settings.stop_timeout_seconds if drain_s is None else drain_s
        if self.endpoints is not None:
            self.progress("stopping agents (each backs up its state first)...")
        await asyncio.to_thread(self.backend.stop_agents, timeout, self.force)
        for handle, task in reversed(self._servers):
            handle.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        self._servers.clear()
        if self._api_socket is not None:
            self._api_socket.close()
            self._api_socket = None
        for services in (self.services, self.watchdog_services):
            if services is not None:
                services.close()  # may be the same object twice: closing is idempotent
        with contextlib.suppress(Exception):
            said = await self.backend.stop()
            if self.endpoints is not None:
                self.progress(said)
        wiring.reset(None)
        self._lock.release()

    def kill_now(self) -> None:
        """A second Ctrl+C: agents die at once (their acknowledged work is safe)."""
        self.force.set()
        self.backend.kill_agents()
