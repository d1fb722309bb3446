"""The dev stack's `embedded` backend (the default): the product's data in one SQLite database
under the state dir (`state.db`: every store, the inboxes, the secrets, the users; `blobs/`:
the agents' versioned backups), agents as child processes of the stack, and the local
identity provider behind a Cognito-compatible endpoint on the stack's own port.

Crash-safe by construction: a write is acknowledged only once SQLite has it on disk (WAL,
synchronous=FULL), and nothing is kept in memory that a restart would need.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from serverless_openclaw.adapters.embedded import EmbeddedPorts
from serverless_openclaw.adapters.embedded.compute import ProcessCompute
from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import NotFound
from serverless_openclaw.local.wiring import local_secret_names, wire_local_embedded
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import (
    AuthSettings,
    DevSettings,
    HandlerSettings,
    environ_snapshot,
)

from .cognito_idp import MOUNT_PATH, CognitoIdp
from .serve import ServerHandle

Serve = Callable[[ASGIApp], Awaitable[ServerHandle]]
DATABASE: Final = "state.db"


def local_database(state_dir: Path) -> Path:
    return state_dir / DATABASE


class EmbeddedLocalBackend:
    name = "embedded"

    def __init__(self, settings: DevSettings, state_dir: Path, progress: Callable[[str], None]):
        self.settings = settings
        self.state_dir = state_dir
        self.progress = progress
        self.database = local_database(state_dir)
        self.restored = self.database.exists()
        self.api_url = f"http://{settings.host}:{settings.port}"
        self.identity: EmbeddedIdentity | None = None
        self.compute: ProcessCompute | None = None
        self.services: Services | None = None
        self.ports: EmbeddedPorts | None = None
        self._webhook_secret: str | None = None

    def check_ports(self) -> None:
        """Nothing but the stack's own port."""

    async def start(self) -> None:
        self.identity = await asyncio.to_thread(
            EmbeddedIdentity, self.database, issuer_base=f"{self.api_url}{MOUNT_PATH}"
        )
        self.progress(
            f"local data in {self.database}"
            + (" — previous state restored" if self.restored else " — fresh state")
        )

    @property
    def webhook_secret(self) -> str:
        assert self._webhook_secret is not None
        return self._webhook_secret

    def put_secrets(self, bot_token: str) -> None:
        """The webhook secret is made once and kept (a registered webhook keeps working)."""
        token_name, secret_name = local_secret_names(self.settings)
        assert self.ports is not None
        store = self.ports.secrets()
        try:
            self._webhook_secret = store.get(secret_name).get_secret_value()
        except NotFound:
            self._webhook_secret = secrets.token_urlsafe(32)
            store.put(secret_name, self._webhook_secret)
        store.put(token_name, bot_token)

    async def start_compute(
        self,
        *,
        command: Sequence[str],
        environment: dict[str, str],
        stop_timeout_s: float,
        serve: Serve,
    ) -> None:
        # The stack's own environment (PATH, HOME, caches, PYTHONPATH), without AWS's: an
        # agent of the embedded backend has nothing to say to AWS.
        base = {k: v for k, v in environ_snapshot().items() if not k.startswith("AWS_")}
        self.compute = ProcessCompute(
            command,
            tasks_dir=self.state_dir / "tasks",
            environment={
                **base,
                **environment,
                "SOC_BACKEND": "embedded",
                "SOC_EMBEDDED_DIR": str(self.state_dir),
            },
            stop_timeout_s=stop_timeout_s,
        )
        self.progress("local compute: agents run as child processes that die with the stack")

    def auth(self, api_url: str) -> AuthSettings:
        assert self.identity is not None
        return AuthSettings(
            user_pool_id=self.identity.pool_id,
            user_pool_client_id=self.identity.client_id,
            jwt_issuer=self.identity.issuer,
            jwks_url=self.identity.jwks_url,
        )

    def issuer(self, api_url: str) -> str:
        assert self.identity is not None
        return self.identity.issuer

    def site_auth(self, api_url: str) -> dict[str, Any]:
        assert self.identity is not None
        return {
            "userPoolId": self.identity.pool_id,
            "userPoolClientId": self.identity.client_id,
            "cognitoEndpoint": f"{api_url}{MOUNT_PATH}",
            # The password goes over loopback to the local identity provider only.
            "authFlow": "USER_PASSWORD_AUTH",
        }

    def routes(self) -> list[BaseRoute]:
        assert self.identity is not None
        return CognitoIdp(self.identity).routes(MOUNT_PATH)

    def wire(self, handler_settings: HandlerSettings) -> Services:
        assert self.identity is not None
        assert self.compute is not None
        self.services = wire_local_embedded(
            handler_settings, root=self.state_dir, compute=self.compute, users=self.identity
        )
        ports = self.services.ports
        assert isinstance(ports, EmbeddedPorts)
        self.ports = ports
        return self.services

    def users(self) -> UserDirectory:
        assert self.identity is not None
        return self.identity

    def first_user(self, username: str) -> dict[str, str] | None:
        """The first start adds one person, with a temporary password shown once."""
        from serverless_openclaw.adapters.embedded.identity import generate_password

        assert self.identity is not None
        if self.identity.list():
            return None
        password = generate_password()
        self.identity.add(username, temporary_password=password)
        return {"username": username, "password": password, "temporary": "yes"}

    def describe(self) -> dict[str, Any]:
        return {"database": str(self.database)}

    async def background(self, stop: asyncio.Event) -> None:
        """Nothing to snapshot: every write is already on disk."""
        await stop.wait()

    def stop_agents(self, timeout_s: float, force: threading.Event) -> None:
        if self.compute is not None:
            self.compute.close(timeout_s, force)

    def kill_agents(self) -> None:
        if self.compute is not None:
            self.compute.kill_all()

    async def stop(self) -> str:
        if self.identity is not None:
            self.identity.close()
        if self.ports is not None:
            self.ports.close()
        return f"local data is in {self.database} (every write already on disk)"
