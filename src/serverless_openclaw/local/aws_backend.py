"""The dev stack's `aws` backend: the production boto3 adapters against an embedded moto server
(DynamoDB, SQS, S3, Cognito, SSM; pickled to the state dir) and the ECS emulator.

This is how CI proves the boto3 code end to end (`serverless-openclaw dev --backend aws`); the
product's default is the embedded backend (local/embedded_backend.py), because a pickle
written every minute is not crash-safe.

IAM is enforced (`enforce_iam`, default on): the templates are synthesized once per version
of the infra code (infra/local_templates.py), their policies resolved to this stack's names
(`local_policies`), and moto checks every call from then on. The stack sets up as an
administrator; the request handlers and the watchdog call moto with the credentials of their
own roles; each person's agent task runs as that person's role, made when the person is
added (`first_user`, `add_person`; moto's IAM is not kept across restarts, so `start` makes
the roles of the people already in the pool again) and assumed by the ECS emulator, as ECS
does. Names are a deployment's: the cluster `<prefix>-agents`, the family `<prefix>-agent`,
the shared dead-letter queue made by the administrator and passed as `SOC_INBOX_DLQ_ARN`.
With `SOC_AWS_CALL_LOG_DIR` set, every component records its calls there (the handlers and
the watchdog in this process, each agent task in its own) for the conformance check.

boto3 reaches moto through its own standard variables (`AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_ECS`), set here for this process: that is boto3's configuration, not the
handlers' (they get theirs from `local.wiring.wire_local_aws`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from serverless_openclaw.adapters.aws.agent_roles import role_arn_prefix
from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.inbox import Inbox
from serverless_openclaw.adapters.aws.ports import default_issuer
from serverless_openclaw.adapters.aws.provision import provision
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.app.people import AgentAccess, NoAgentAccess, complete_person
from serverless_openclaw.app.services import Services
from serverless_openclaw.local.wiring import (
    local_agent_family,
    local_secret_names,
    local_state_bucket,
    wire_local_aws,
)
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import (
    AgentSettings,
    AuthSettings,
    BackendSettings,
    DevSettings,
    HandlerSettings,
    NamesSettings,
)

from . import cognito
from .ecs_emulator import EcsEmulator, TaskDefinition
from .moto_state import EmbeddedMoto
from .serve import ServerHandle

log = logging.getLogger(__name__)

Serve = Callable[[ASGIApp], Awaitable[ServerHandle]]
SNAPSHOT_INTERVAL_S = 60.0


@dataclass
class _Pool:
    user_pool_id: str
    user_pool_client_id: str
    webhook_secret: str


@dataclass(frozen=True)
class LocalIam:
    """IAM enforced in this stack's moto: who is who."""

    admin: AwsCredentials
    handlers: AwsCredentials
    watchdog: AwsCredentials
    people: Any
    """`infra.local_iam.LocalPeople`: each person's role (made, assumed, removed)."""
    agent_policy: dict[str, Any]
    """The `agent-task` policy with the person as a policy variable (for `user add`)."""


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
        self.iam: LocalIam | None = None
        self.dead_letter_arn: str | None = None
        self._pool: _Pool | None = None

    # --- start -----------------------------------------------------------------------------
    def check_ports(self) -> None:
        """moto's port is bound here and served at `start()`."""
        self.moto.bind("the local AWS of --backend aws; choose --port")

    async def start(self) -> None:
        s = self.settings
        self.restored = await asyncio.to_thread(self.moto.start)
        self.progress(
            f"local AWS (moto) on {self.moto.url}"
            + (" — previous state restored" if self.restored else " — fresh state")
        )
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto.url,
                # Nothing should call with these once IAM is enforced: every component has
                # its own principal's credentials, and moto refuses unknown keys.
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": s.region,
                "AWS_DEFAULT_REGION": s.region,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        if s.enforce_iam:
            self.iam = await asyncio.to_thread(self._enforce_iam)
        self.clients = AwsClients(s.region, credentials=self.iam.admin if self.iam else None)
        created = await asyncio.to_thread(
            provision, self.clients, prefix=s.prefix, state_bucket=local_state_bucket(s)
        )
        if created:
            self.progress(f"created {len(created)} tables and the state bucket")
        # The shared dead-letter queue, as the Storage stack makes it on AWS.
        self.dead_letter_arn = await asyncio.to_thread(
            Inbox(self.clients.sqs(), s.prefix).dead_letter_arn
        )
        self._pool = await asyncio.to_thread(self._cognito_pool)
        if self.iam is not None:
            count = await asyncio.to_thread(self._restore_people)
            if count:
                self.progress(f"made the roles of {count} people again (moto keeps no IAM)")

    def _enforce_iam(self) -> LocalIam:
        """Synthesized policies (cached), principals, moto's check on."""
        from serverless_openclaw.infra.local_iam import LocalPeople, enforce_iam, local_policies
        from serverless_openclaw.infra.local_templates import load_or_synth

        s = self.settings
        self.progress("IAM enforced: the synthesized policies of each component (cached)")
        policies = local_policies(
            load_or_synth(),
            prefix=s.prefix,
            state_bucket=local_state_bucket(s),
            region=s.region,
        )
        found = enforce_iam(
            self.moto.url,
            {name: policies[name] for name in ("handlers", "watchdog")},
            region=s.region,
        )
        admin = found["admin"]
        people = LocalPeople(
            self.moto.url, policies["agent-task"], prefix=s.prefix, admin=admin, region=s.region
        )
        iam_dir = self.state_dir / "iam"
        iam_dir.mkdir(mode=0o700, exist_ok=True)
        agent_policy = policies["agent-task"].document()
        (iam_dir / "agent-task.json").write_text(json.dumps(agent_policy, indent=2))
        return LocalIam(
            admin=admin,
            handlers=found["handlers"],
            watchdog=found["watchdog"],
            people=people,
            agent_policy=agent_policy,
        )

    def _restore_people(self) -> int:
        """Each person's role (a restarted moto has no IAM state; queues are kept)."""
        assert self.clients is not None
        assert self._pool is not None
        assert self.iam is not None
        users = UserAdmin(self.clients.cognito_idp(), self._pool.user_pool_id)
        people = users.list()
        for user in people:
            if user.sub:
                self.iam.people.grant(user.sub)
        return len(people)

    def access(self) -> AgentAccess:
        """What `user add` makes besides the account: the person's own role."""
        return self.iam.people if self.iam is not None else NoAgentAccess()

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
        s = self.settings
        env = {
            **environment,
            **AgentSettings.given(
                names=NamesSettings.given(
                    prefix=s.prefix, state_bucket=local_state_bucket(s), region=s.region
                ),
                storage=BackendSettings.given(backend="aws"),
            ).to_environment(),
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_DEFAULT_REGION": s.region,
        }
        task_role = None
        if self.iam is not None:
            people = self.iam.people

            def task_role(arn: str) -> dict[str, str]:
                return dict(people.credentials(arn).environment())

        else:
            env.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        definition = TaskDefinition(command=list(command), environment=env)
        self.ecs = EcsEmulator(
            default=definition,
            task_definitions={local_agent_family(s): definition},
            log_dir=self.state_dir / "tasks",
            region=s.region,
            stop_timeout_s=stop_timeout_s,
            task_role=task_role,
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

    def _deployment_settings(self, handler_settings: HandlerSettings) -> HandlerSettings:
        """What a deployment's Lambda environment adds: the dead-letter queue the Storage
        stack made, and (IAM enforced) the people's roles that RunTask passes."""
        names = handler_settings.names.model_copy(update={"inbox_dlq_arn": self.dead_letter_arn})
        compute = handler_settings.compute
        if self.iam is not None:
            from serverless_openclaw.infra.local_iam import ACCOUNT

            compute = compute.model_copy(
                update={
                    "agent_role_arn_prefix": role_arn_prefix(self.settings.prefix, account=ACCOUNT)
                }
            )
        return handler_settings.model_copy(update={"names": names, "compute": compute})

    def wire(self, handler_settings: HandlerSettings) -> Services:
        return wire_local_aws(
            self._deployment_settings(handler_settings),
            credentials=self.iam.handlers if self.iam else None,
        )

    def wire_watchdog(self, handler_settings: HandlerSettings) -> Services:
        """The watchdog's Services: its own role (only it may scan, read dead letters)."""
        return wire_local_aws(
            self._deployment_settings(handler_settings),
            credentials=self.iam.watchdog if self.iam else None,
            role="watchdog",
        )

    def users(self) -> UserDirectory:
        assert self.clients is not None
        assert self._pool is not None
        return UserAdmin(self.clients.cognito_idp(), self._pool.user_pool_id)

    def first_user(self, username: str) -> dict[str, str] | None:
        """moto answers a temporary password's challenge without the attributes the web
        client needs, so this backend's first user gets a permanent password. Like every
        person, they get their own role and inbox (`user add`)."""
        assert self.clients is not None
        assert self._pool is not None
        idp = self.clients.cognito_idp()
        if cognito.user_count(idp, self._pool.user_pool_id) > 0:
            return None
        password = cognito.generate_password()
        cognito.add_user(idp, self._pool.user_pool_id, username, password)
        users = self.users()
        inbox = Inbox(
            self.clients.sqs(), self.settings.prefix, dead_letter_arn=self.dead_letter_arn
        )
        complete_person(inbox, users, self.access(), users.get(username))
        return {"username": username, "password": password, "temporary": ""}

    def describe(self) -> dict[str, Any]:
        """What `dev.json` tells `serverless-openclaw user ...` and the tests (0600): where
        moto is, and — IAM enforced — the administrator's credentials, as an operator has
        theirs."""
        described: dict[str, Any] = {
            "moto_url": self.moto.url,
            "ecs_url": self.ecs_url,
            "state_bucket": local_state_bucket(self.settings),
            "enforce_iam": self.iam is not None,
            "inbox_dlq_arn": self.dead_letter_arn,
        }
        if self.iam is not None:
            described["moto_admin"] = {
                "access_key_id": self.iam.admin.access_key_id,
                "secret_access_key": self.iam.admin.secret_access_key,
            }
        return described

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
