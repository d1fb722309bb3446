"""`serverless-openclaw dev` as a library: the whole product on one machine.

Pieces (ARCHITECTURE.md, "Request flow (local)"): the embedded moto server (DynamoDB, SQS, S3,
Cognito, SSM; snapshotted to the state dir so users, conversations, settings, links and the
agents' backups survive restarts), the API Gateway emulator (WebSocket + @connections + HTTP
API + the site), the ECS emulator (each agent task is a child process running the real
`python -m serverless_openclaw.agent`), the watchdog tick, the offline model when no LLM key
is configured, and the fake Telegram Bot API (or a getUpdates poller with a real bot token).

The Lambda handlers run in this process, unchanged: they read their settings from the
environment this module sets up, exactly as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.provision import provision
from serverless_openclaw.settings import DevSettings

from . import cognito
from .apigw_emulator import ApiGatewayEmulator, JwtAuthorizer, Routes
from .ecs_emulator import EcsEmulator, TaskDefinition
from .lambda_runtime import LambdaRuntime
from .moto_state import EmbeddedMoto
from .serve import ServerHandle, serve_task

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
TASK_DEFINITION = "soc-agent"
CLUSTER = "soc-dev"
STAGE = "local"
FAKE_BOT_TOKEN = "123456789:local-fake-telegram-bot-token"  # noqa: S105 - the fake bot


def default_web_dir() -> Path | None:
    candidate = Path(__file__).resolve().parents[3] / "web" / "dist"
    return candidate if (candidate / "index.html").exists() else None


@dataclass
class DevEndpoints:
    url: str
    ws_url: str
    moto_url: str
    ecs_url: str
    region: str
    prefix: str
    state_bucket: str
    user_pool_id: str
    user_pool_client_id: str
    model_provider: str
    offline_model_url: str | None = None
    telegram_api_base: str | None = None
    telegram_bot_token: str | None = None
    """Only the fake bot's token is written here; a real token never is."""
    telegram_webhook_secret: str | None = None
    web_built: bool = False
    restored: bool = False
    first_user: dict[str, str] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("first_user")
        return data


@dataclass
class _Meta:
    user_pool_id: str
    user_pool_client_id: str
    webhook_secret: str


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
        self.moto = EmbeddedMoto(
            port=settings.moto_port, snapshot=self.state_dir / "aws-state.pickle"
        )
        self.ecs: EcsEmulator | None = None
        self.emulator: ApiGatewayEmulator | None = None
        self.fake_telegram: Any = None
        self.endpoints: DevEndpoints | None = None
        self._servers: list[tuple[ServerHandle, asyncio.Task[None]]] = []
        self._background: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self.runtime = LambdaRuntime(region=settings.region)

    # --- start -----------------------------------------------------------------------------
    async def start(self) -> DevEndpoints:
        s = self.settings
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.progress(f"state in {self.state_dir}")

        restored = self.moto.start()
        self.progress(
            f"local AWS (moto) on {self.moto.url}"
            + (" — previous state restored" if restored else " — fresh state")
        )
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto.url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": s.region,
                "AWS_DEFAULT_REGION": s.region,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        clients = AwsClients(s.region)
        bucket = f"{s.prefix}-state"
        created = await asyncio.to_thread(provision, clients, prefix=s.prefix, state_bucket=bucket)
        if created:
            self.progress(f"created {len(created)} tables and the state bucket")
        meta = await asyncio.to_thread(self._cognito_and_parameters, clients)

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

        from .serve import free_port

        port = s.port or free_port(s.host)
        url = f"http://{s.host}:{port}"
        connections_url = f"{url}/{STAGE}"
        ecs_handle = await self._start_ecs(
            provider=provider,
            offline_url=offline_url,
            telegram_base=telegram_base,
            bot_token=bot_token,
            connections_url=connections_url,
            bucket=bucket,
        )
        os.environ.update(
            {
                "AWS_ENDPOINT_URL_ECS": ecs_handle.url,
                "SOC_PREFIX": s.prefix,
                "SOC_STATE_BUCKET": bucket,
                "SOC_CONNECTIONS_URL": connections_url,
                "SOC_USER_POOL_ID": meta.user_pool_id,
                "SOC_USER_POOL_CLIENT_ID": meta.user_pool_client_id,
                "SOC_JWKS_URL": f"{self.moto.url}/{meta.user_pool_id}/.well-known/jwks.json",
                "SOC_ECS_CLUSTER": CLUSTER,
                "SOC_TASK_DEFINITION": TASK_DEFINITION,
                "SOC_SUBNETS": '["subnet-local"]',
                "SOC_SECURITY_GROUPS": '["sg-local"]',
                "SOC_TELEGRAM_API_BASE": telegram_base,
                "SOC_TELEGRAM_BOT_TOKEN_PARAM": f"/{s.prefix}/telegram/bot-token",
                "SOC_TELEGRAM_WEBHOOK_SECRET_PARAM": f"/{s.prefix}/telegram/webhook-secret",
                "SOC_DEFAULT_MODEL_PROVIDER": provider,
                "POWERTOOLS_SERVICE_NAME": "serverless-openclaw",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessOpenClaw",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
        )
        self.emulator = self._emulator(meta, url)
        handle = await self._serve(self.emulator.app, port=port, host=s.host)
        web_dir = s.web_dir or default_web_dir()
        self.progress(
            f"API Gateway emulator on {handle.url} (WebSocket {handle.ws_url}/ws)"
            + ("" if web_dir else " — web app not built")
        )
        if self.fake_telegram is not None:
            await self._register_fake_webhook(telegram_base, bot_token, url, meta.webhook_secret)

        self.endpoints = DevEndpoints(
            url=url,
            ws_url=f"ws://{s.host}:{port}/ws",
            moto_url=self.moto.url,
            ecs_url=ecs_handle.url,
            region=s.region,
            prefix=s.prefix,
            state_bucket=bucket,
            user_pool_id=meta.user_pool_id,
            user_pool_client_id=meta.user_pool_client_id,
            model_provider=provider,
            offline_model_url=offline_url,
            telegram_api_base=telegram_base,
            telegram_bot_token=bot_token if self.fake_telegram is not None else None,
            telegram_webhook_secret=meta.webhook_secret,
            web_built=web_dir is not None,
            restored=restored,
        )
        self.endpoints.first_user = await asyncio.to_thread(self._first_user, clients, meta)
        (self.state_dir / "dev.json").write_text(json.dumps(self.endpoints.public(), indent=2))
        os.chmod(self.state_dir / "dev.json", 0o600)

        await self._watchdog_tick()  # reconcile rows left over from an earlier run
        self._background.append(asyncio.create_task(self._watchdog_loop(), name="watchdog"))
        self._background.append(asyncio.create_task(self._snapshot_loop(), name="snapshots"))
        if self.settings.telegram_bot_token is not None:
            self._background.append(asyncio.create_task(self._poll_telegram(), name="tg-poller"))
        return self.endpoints

    def _cognito_and_parameters(self, clients: AwsClients) -> _Meta:
        meta_path = self.state_dir / "stack.json"
        idp = clients.cognito_idp()
        meta: _Meta | None = None
        if meta_path.exists():
            data = json.loads(meta_path.read_text())
            with contextlib.suppress(Exception):
                idp.describe_user_pool(UserPoolId=data["user_pool_id"])
                meta = _Meta(**data)
        if meta is None:
            pool, client_id = cognito.create_pool(idp, self.settings.prefix)
            meta = _Meta(pool, client_id, secrets.token_urlsafe(32))
            meta_path.write_text(json.dumps(asdict(meta)))
            os.chmod(meta_path, 0o600)
            self.progress("created the Cognito user pool (self sign-up off)")
        ssm = clients.ssm()
        token = (
            self.settings.telegram_bot_token.get_secret_value()
            if self.settings.telegram_bot_token
            else FAKE_BOT_TOKEN
        )
        for name, value in (
            (f"/{self.settings.prefix}/telegram/bot-token", token),
            (f"/{self.settings.prefix}/telegram/webhook-secret", meta.webhook_secret),
        ):
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        return meta

    def _first_user(self, clients: AwsClients, meta: _Meta) -> dict[str, str] | None:
        idp = clients.cognito_idp()
        if cognito.user_count(idp, meta.user_pool_id) > 0:
            return None
        password = cognito.generate_password()
        username = self.settings.first_user
        cognito.add_user(idp, meta.user_pool_id, username, password)
        return {"username": username, "password": password}

    async def _serve(self, app: Any, *, port: int = 0, host: str = "127.0.0.1") -> ServerHandle:
        handle, task = await serve_task(app, host=host, port=port)
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

    async def _register_fake_webhook(self, base: str, token: str, url: str, secret: str) -> None:
        from serverless_openclaw.telegram import bot_api as tg

        api = tg.AsyncBotApi(token, base_url=base)
        try:
            await api.call(tg.set_webhook(f"{url}/telegram/webhook", secret_token=secret))
        finally:
            await api.aclose()

    async def _start_ecs(
        self,
        *,
        provider: str,
        offline_url: str | None,
        telegram_base: str,
        bot_token: str,
        connections_url: str,
        bucket: str,
    ) -> ServerHandle:
        env = {
            "SOC_HEALTH_PORT": "0",
            "SOC_GATEWAY_PORT": "0",
            "SOC_MODEL_PROVIDER": provider,
            "SOC_PREFIX": self.settings.prefix,
            "SOC_STATE_BUCKET": bucket,
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
        self.ecs = EcsEmulator(
            default=TaskDefinition(command=self.agent_command, environment=env),
            log_dir=self.state_dir / "tasks",
            region=self.settings.region,
            stop_timeout_s=self.agent_stop_timeout_s,
        )
        handle = await self._serve(self.ecs.app)
        self.progress(f"local compute (ECS emulator) on {handle.url}: agents run as processes")
        return handle

    def _emulator(self, meta: _Meta, url: str) -> ApiGatewayEmulator:
        from serverless_openclaw.gateway import (
            http_api,
            telegram_webhook,
            ws_connect,
            ws_disconnect,
            ws_message,
        )

        region = self.settings.region
        authorizer = JwtAuthorizer(
            issuer=f"https://cognito-idp.{region}.amazonaws.com/{meta.user_pool_id}",
            audience=meta.user_pool_client_id,
            jwks_url=f"{self.moto.url}/{meta.user_pool_id}/.well-known/jwks.json",
        )

        def site_config(_: Any) -> dict[str, Any]:
            assert self.endpoints is not None
            return {
                "region": region,
                "userPoolId": meta.user_pool_id,
                "userPoolClientId": meta.user_pool_client_id,
                "wsUrl": self.endpoints.ws_url,
                "httpUrl": url,
                "cognitoEndpoint": self.moto.url,
            }

        return ApiGatewayEmulator(
            Routes(
                ws_connect=ws_connect.handler,
                ws_message=ws_message.handler,
                ws_disconnect=ws_disconnect.handler,
                http_api=http_api.handler,
                telegram_webhook=telegram_webhook.handler,
            ),
            authorizer=authorizer,
            stage=STAGE,
            site_dir=self.settings.web_dir or default_web_dir(),
            site_config=site_config,
            runtime=self.runtime,
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
            "resources": ["arn:aws:events:us-east-1:000000000000:rule/soc-dev-watchdog"],
            "detail": {},
        }
        try:
            await self.runtime.invoke("watchdog", watchdog.handler, event, 60.0)
        except Exception:
            log.exception("watchdog tick failed")

    async def _watchdog_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_seconds)
            await self._watchdog_tick()

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            for attempt in range(3):
                try:
                    await asyncio.to_thread(self.moto.save)
                    break
                except RuntimeError:  # state changed while pickling; try again
                    await asyncio.sleep(0.5)
                except Exception:
                    log.exception("snapshot of local AWS failed (attempt %d)", attempt + 1)
                    break

    async def _poll_telegram(self) -> None:
        from serverless_openclaw.telegram import bot_api as tg

        from .telegram_poller import TelegramPoller

        assert self.settings.telegram_bot_token is not None
        api = tg.AsyncBotApi(self.settings.telegram_bot_token)
        try:
            from serverless_openclaw.gateway import telegram_webhook

            assert self.endpoints is not None
            assert self.endpoints.telegram_webhook_secret
            poller = TelegramPoller(
                api,
                self.runtime.serialized("telegram_webhook", telegram_webhook.handler),
                secret=self.endpoints.telegram_webhook_secret,
            )
            await poller.run(self._stop)
        finally:
            await api.aclose()

    # --- stop ------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop taking requests, stop the agents (they back up), then snapshot local AWS."""
        self._stop.set()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.ecs is not None:
            self.progress("stopping agents (each backs up its state first)...")
            await asyncio.to_thread(self.ecs.close, self.agent_stop_timeout_s)
        for handle, task in reversed(self._servers):
            handle.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        self._servers.clear()
        size = await asyncio.to_thread(self.moto.save)
        self.moto.stop()
        self.progress(f"local AWS state saved ({size // 1024} KB)")
