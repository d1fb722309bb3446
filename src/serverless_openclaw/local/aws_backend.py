"""The dev stack's `aws` backend: the production boto3 adapters against an embedded moto server
(DynamoDB, SQS, S3, Cognito, SSM; pickled to the state dir) and the ECS emulator.

This is how CI proves the boto3 code end to end (`serverless-openclaw dev --backend aws`); the
product's default is the embedded backend (local/embedded_backend.py), because a pickle
written every minute is not crash-safe.

boto3 reaches moto through its own standard variables (`AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_ECS`, dummy credentials), set here for this process: that is boto3's
configuration, not the handlers' (they get theirs from `wiring.wire_local_aws`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.ports import default_issuer
from serverless_openclaw.adapters.aws.provision import provision
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import PortInUse
from serverless_openclaw.local.wiring import (
    LOCAL_TASK_DEFINITION,
    local_secret_names,
    local_state_bucket,
    wire_local_aws,
)
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import AuthSettings, DevSettings, HandlerSettings

from . import cognito
from .ecs_emulator import EcsEmulator, TaskDefinition
from .moto_state import EmbeddedMoto
from .serve import ServerHandle, port_is_free

log = logging.getLogger(__name__)

Serve = Callable[[ASGIApp], Awaitable[ServerHandle]]
SNAPSHOT_INTERVAL_S = 60.0


@dataclass
class _Pool:
    user_pool_id: str
    user_pool_client_id: str
    webhook_secret: str


class AwsLocalBackend:
    name = "aws"

    def __init__(self, settings: DevSettings, state_dir: Path, progress: Callable[[str], None]):
        self.settings = settings
        self.state_dir = state_dir
        self.progress = progress
        self.moto_port = settings.moto_port or settings.port + 1
        self.moto = EmbeddedMoto(
            host=settings.host, port=self.moto_port, snapshot=state_dir / "aws-state.pickle"
        )
        self.clients: AwsClients | None = None
        self.ecs: EcsEmulator | None = None
        self.ecs_url: str | None = None
        self.restored = False
        self._pool: _Pool | None = None

    # --- start -----------------------------------------------------------------------------
    def check_ports(self) -> None:
        if not port_is_free(self.settings.host, self.moto_port):
            raise PortInUse(self.moto_port, "the local AWS of --backend aws; choose --port")

    async def start(self) -> None:
        s = self.settings
        self.restored = await asyncio.to_thread(self.moto.start)
        await asyncio.to_thread(self._wait_listening)
        self.progress(
            f"local AWS (moto) on {self.moto.url}"
            + (" — previous state restored" if self.restored else " — fresh state")
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
        self.clients = AwsClients(s.region)
        created = await asyncio.to_thread(
            provision, self.clients, prefix=s.prefix, state_bucket=local_state_bucket(s)
        )
        if created:
            self.progress(f"created {len(created)} tables and the state bucket")
        self._pool = await asyncio.to_thread(self._cognito_pool)

    def _wait_listening(self, timeout_s: float = 10.0) -> None:
        """moto's server thread dies quietly when it cannot listen: check that it does."""
        deadline = time.monotonic() + timeout_s
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.settings.host, self.moto_port), timeout=1),
            ):
                return
            if time.monotonic() > deadline:
                raise PortInUse(self.moto_port, "the local AWS did not start listening")
            time.sleep(0.05)

    def _cognito_pool(self) -> _Pool:
        assert self.clients is not None
        meta_path = self.state_dir / "stack.json"
        idp = self.clients.cognito_idp()
        pool: _Pool | None = None
        if meta_path.exists():
            data = json.loads(meta_path.read_text())
            with contextlib.suppress(Exception):
                idp.describe_user_pool(UserPoolId=data["user_pool_id"])
                pool = _Pool(**data)
        if pool is None:
            pool_id, client_id = cognito.create_pool(idp, self.settings.prefix)
            pool = _Pool(pool_id, client_id, secrets.token_urlsafe(32))
            meta_path.write_text(json.dumps(asdict(pool)))
            os.chmod(meta_path, 0o600)
            self.progress("created the Cognito user pool (self sign-up off)")
        return pool

    @property
    def webhook_secret(self) -> str:
        assert self._pool is not None
        return self._pool.webhook_secret

    def put_secrets(self, bot_token: str) -> None:
        assert self.clients is not None
        token_name, secret_name = local_secret_names(self.settings)
        ssm = self.clients.ssm()
        for name, value in ((token_name, bot_token), (secret_name, self.webhook_secret)):
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    async def start_compute(
        self,
        *,
        command: Sequence[str],
        environment: dict[str, str],
        stop_timeout_s: float,
        serve: Serve,
    ) -> None:
        env = {
            **environment,
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region,
            "SOC_BACKEND": "aws",
            "SOC_PREFIX": self.settings.prefix,
            "SOC_STATE_BUCKET": local_state_bucket(self.settings),
        }
        self.ecs = EcsEmulator(
            default=TaskDefinition(command=list(command), environment=env),
            task_definitions={LOCAL_TASK_DEFINITION: TaskDefinition(list(command), env)},
            log_dir=self.state_dir / "tasks",
            region=self.settings.region,
            stop_timeout_s=stop_timeout_s,
        )
        handle = await serve(self.ecs.app)
        self.ecs_url = handle.url
        os.environ["AWS_ENDPOINT_URL_ECS"] = handle.url
        self.progress(f"local compute (ECS emulator) on {handle.url}: agents run as processes")

    # --- what the rest of the stack needs --------------------------------------------------
    def auth(self, api_url: str) -> AuthSettings:
        assert self._pool is not None
        return AuthSettings(
            user_pool_id=self._pool.user_pool_id,
            user_pool_client_id=self._pool.user_pool_client_id,
            jwks_url=f"{self.moto.url}/{self._pool.user_pool_id}/.well-known/jwks.json",
        )

    def issuer(self, api_url: str) -> str:
        assert self._pool is not None
        return default_issuer(self.settings.region, self._pool.user_pool_id)

    def site_auth(self, api_url: str) -> dict[str, Any]:
        assert self._pool is not None
        return {
            "userPoolId": self._pool.user_pool_id,
            "userPoolClientId": self._pool.user_pool_client_id,
            "cognitoEndpoint": self.moto.url,
        }

    def routes(self) -> list[BaseRoute]:
        return []

    def wire(self, handler_settings: HandlerSettings) -> Services:
        return wire_local_aws(handler_settings)

    def users(self) -> UserDirectory:
        assert self.clients is not None
        assert self._pool is not None
        return UserAdmin(self.clients.cognito_idp(), self._pool.user_pool_id)

    def first_user(self, username: str) -> dict[str, str] | None:
        """moto answers a temporary password's challenge without the attributes the web
        client needs, so this backend's first user gets a permanent password."""
        assert self.clients is not None
        assert self._pool is not None
        idp = self.clients.cognito_idp()
        if cognito.user_count(idp, self._pool.user_pool_id) > 0:
            return None
        password = cognito.generate_password()
        cognito.add_user(idp, self._pool.user_pool_id, username, password)
        return {"username": username, "password": password, "temporary": ""}

    def describe(self) -> dict[str, Any]:
        return {
            "moto_url": self.moto.url,
            "ecs_url": self.ecs_url,
            "state_bucket": local_state_bucket(self.settings),
        }

    async def background(self, stop: asyncio.Event) -> None:
        """Snapshot moto every minute (the reason this backend is not the default)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SNAPSHOT_INTERVAL_S)
                return
            for attempt in range(3):
                try:
                    await asyncio.to_thread(self.moto.save)
                    break
                except RuntimeError:  # state changed while pickling; try again
                    await asyncio.sleep(0.5)
                except Exception:
                    log.exception("snapshot of local AWS failed (attempt %d)", attempt + 1)
                    break

    # --- stop ------------------------------------------------------------------------------
    def stop_agents(self, timeout_s: float, force: Any) -> None:
        if self.ecs is not None:
            self.ecs.close(timeout_s)

    def kill_agents(self) -> None:
        if self.ecs is not None:
            self.ecs.close(0)

    async def stop(self) -> str:
        if self.clients is None:  # never started: the snapshot on disk stays as it is
            return "local AWS not started"
        size = await asyncio.to_thread(self.moto.save)
        self.moto.stop()
        return f"local AWS state saved ({size // 1024} KB)"
