"""The local stack's wiring (`serverless-openclaw dev`) and its user directory.

`local_handler_settings(DevSettings, ...)` says what the Lambda environment says on AWS;
`wire_local_embedded()` / `wire_local_aws()` give the handlers of the stack their services
from it and the few things the stack makes at start (its identity provider and local compute);
`wire_local_users()` opens the local stack's user directory for `serverless-openclaw user`, and
`wire_local_operator()` what `serverless-openclaw user add|remove` works with there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serverless_openclaw.adapters.aws.call_log import recording_clients
from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.ports import AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.ports.compute import Compute, LaunchSpec, TaskInfo
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import (
    AuthSettings,
    ComputeSettings,
    DevSettings,
    HandlerSettings,
    NamesSettings,
    TelegramSettings,
)
from serverless_openclaw.wiring import aws_config

if TYPE_CHECKING:
    from serverless_openclaw.app.people import AgentAccess, Operator

LOCAL_STAGE = "local"


def local_state_bucket(dev: DevSettings) -> str:
    return f"{dev.prefix}-state"


def local_cluster(dev: DevSettings) -> str:
    """A deployment's name for the agents' cluster (IAM policies name it)."""
    return f"{dev.prefix}-agents"


def local_agent_family(dev: DevSettings) -> str:
    """A deployment's name for the agent's task definition family."""
    return f"{dev.prefix}-agent"


def local_secret_names(dev: DevSettings) -> tuple[str, str]:
    """Where the local stack keeps the bot token and the webhook secret (SSM names on AWS)."""
    return f"/{dev.prefix}/telegram/bot-token", f"/{dev.prefix}/telegram/webhook-secret"


def local_handler_settings(
    dev: DevSettings,
    *,
    api_url: str,
    auth: AuthSettings,
    telegram_api_base: str,
) -> HandlerSettings:
    """What the Lambda environment says on AWS, for the handlers the local stack runs. Fields
    not named here come from the environment as on Lambda (e.g. `SOC_MIN_UPTIME_SECONDS`)."""
    token_name, secret_name = local_secret_names(dev)
    return HandlerSettings(
        names=NamesSettings(
            prefix=dev.prefix,
            state_bucket=local_state_bucket(dev),
            connections_url=f"{api_url}/{LOCAL_STAGE}",
            AWS_REGION=dev.region,
        ),
        auth=auth,
        compute=ComputeSettings(
            ecs_cluster=local_cluster(dev),
            task_definition=local_agent_family(dev),
            subnets=["subnet-local"],
            security_groups=["sg-local"],
        ),
        telegram=TelegramSettings(
            telegram_api_base=telegram_api_base,
            telegram_bot_token_param=token_name,
            telegram_webhook_secret_param=secret_name,
        ),
    )


def wire_local_aws(
    settings: HandlerSettings,
    *,
    credentials: AwsCredentials | None = None,
    role: str = "handlers",
) -> Services:
    """The `aws` backend of the dev stack: the production boto3 adapters against the embedded
    moto and the ECS emulator. boto3 finds them through its own standard variables
    (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECS`), which the stack sets for its process. With
    IAM enforced, `credentials` are those of the component's principal (`role`: the request
    handlers, or the watchdog), as on Lambda."""
    clients = recording_clients(
        settings.names.region, credentials, settings.aws_call_log_dir, role
    ) or AwsClients(settings.names.region)
    return Services(settings, AwsPorts(aws_config(settings), clients=clients))


def wire_local_embedded(
    settings: HandlerSettings, *, root: Path, compute: Compute, users: UserDirectory
) -> Services:
    """The `embedded` backend of the dev stack (the local product): every store, the inbox,
    the blobs and the secrets in SQLite under `root`; agents as child processes (`compute`);
    the local identity provider (`users`), whose tokens are checked through its JWKS as API
    Gateway's authorizer would; pushes through the API Gateway emulator's @connections."""
    from serverless_openclaw.adapters.embedded import EmbeddedPorts
    from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections
    from serverless_openclaw.adapters.jwks import TokenVerifier

    auth = settings.auth
    assert auth.jwt_issuer is not None
    assert settings.names.connections_url is not None
    verifier = TokenVerifier(
        issuer=auth.jwt_issuer, client_id=auth.user_pool_client_id, jwks_url=auth.jwks_url
    )
    ports = EmbeddedPorts(
        root,
        compute=compute,
        connections_api=LoopbackConnections(settings.names.connections_url),
        users=users,
        verifier=verifier,
    )
    return Services(settings, ports)


def wire_local_users(state_dir: Path) -> UserDirectory:
    """The user directory of the local stack kept in `state_dir` (what `serverless-openclaw
    user ...` uses there): the embedded database, opened beside the running stack (SQLite
    allows it), or — for a stack started with `--backend aws` — moto's Cognito, which lives
    only while that stack runs (as the administrator the stack made, IAM enforced).
    `NotFound` when no stack ever ran there."""
    info = _local_stack_info(state_dir)
    if info.get("backend", "aws") == "embedded":
        from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity

        return EmbeddedIdentity(Path(info.get("database") or state_dir / "state.db"))
    from serverless_openclaw.adapters.aws.users import UserAdmin

    clients = _local_moto_clients(info)
    return UserAdmin(clients.cognito_idp(), info["user_pool_id"])


def _local_moto_clients(info: dict[str, Any]) -> AwsClients:
    """Clients of a running local stack's moto (and ECS emulator), as its administrator."""
    admin = info.get("moto_admin")
    credentials = (
        AwsCredentials(admin["access_key_id"], admin["secret_access_key"])
        if admin
        else AwsCredentials("local", "local")
    )
    endpoints = {"*": info["moto_url"]}
    if info.get("ecs_url"):
        endpoints["ecs"] = info["ecs_url"]
    return AwsClients(info["region"], credentials=credentials, endpoints=endpoints)


def wire_local_operator(state_dir: Path) -> Operator:
    """The people of the local stack that keeps `state_dir`, for `serverless-openclaw user
    ... --local`, beside the running stack: its database or its moto (as the administrator
    the stack made, IAM enforced), its ECS emulator and its @connections endpoint (to stop a
    removed person's agent and close their sockets). `NotFound` when no stack ever ran
    there."""
    import json

    from serverless_openclaw.app.people import NoAgentAccess, Operator

    info = _local_stack_info(state_dir)
    settings = HandlerSettings.given(
        names=NamesSettings.given(
            prefix=info["prefix"],
            state_bucket=info.get("state_bucket") or f"{info['prefix']}-state",
            region=info["region"],
            connections_url=f"{info['url']}/{LOCAL_STAGE}",
            inbox_dlq_arn=info.get("inbox_dlq_arn"),
        ),
        auth=AuthSettings.given(
            user_pool_id=info["user_pool_id"], user_pool_client_id=info["user_pool_client_id"]
        ),
        compute=ComputeSettings.given(
            ecs_cluster=f"{info['prefix']}-agents", task_definition=f"{info['prefix']}-agent"
        ),
    )
    if info.get("backend", "aws") == "embedded":
        from serverless_openclaw.adapters.embedded import EmbeddedPorts
        from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections

        directory = wire_local_users(state_dir)
        connections = settings.names.connections_url
        assert connections is not None
        ports = EmbeddedPorts(
            Path(info.get("database") or state_dir / "state.db").parent,
            connections_api=LoopbackConnections(connections),
            compute=_StopByFolder(state_dir / "tasks"),
            users=directory,
        )
        return Operator(Services(settings, ports), directory, NoAgentAccess())
    from serverless_openclaw.adapters.aws.person_data import AwsPersonalData
    from serverless_openclaw.adapters.aws.users import UserAdmin

    clients = _local_moto_clients(info)
    credentials = clients.credentials
    assert credentials is not None
    access: AgentAccess = NoAgentAccess()
    policy_file = state_dir / "iam" / "agent-task.json"
    if info.get("enforce_iam") and policy_file.exists():
        from serverless_openclaw.infra.local_iam import LocalPeople
        from serverless_openclaw.infra.policies import RolePolicy

        access = LocalPeople(
            info["moto_url"],
            RolePolicy.from_document("agent-task", json.loads(policy_file.read_text())),
            prefix=info["prefix"],
            admin=credentials,
            region=info["region"],
        )
    return Operator(
        services=Services(settings, AwsPorts(aws_config(settings), clients=clients)),
        users=UserAdmin(clients.cognito_idp(), info["user_pool_id"]),
        access=access,
        erase=AwsPersonalData(
            clients.dynamodb(),
            clients.s3(),
            prefix=info["prefix"],
            state_bucket=settings.names.state_bucket,
        ),
    )


def _local_stack_info(state_dir: Path) -> dict[str, Any]:
    import json

    from serverless_openclaw.core.errors import NotFound

    info_path = state_dir / "dev.json"
    if not info_path.exists():
        raise NotFound(f"no local stack has run in {state_dir} (start `serverless-openclaw dev`)")
    info: dict[str, Any] = json.loads(info_path.read_text())
    return info


class _StopByFolder:
    """The embedded backend's agents, stopped from outside the stack that runs them (the
    `user remove --local` of one machine): every process working in the task's folder gets
    SIGTERM, then SIGKILL, as the stack's own compute would do."""

    def __init__(self, tasks_dir: Path) -> None:
        self._tasks = tasks_dir

    def run_task(self, spec: LaunchSpec) -> str:
        from serverless_openclaw.core.errors import StorageUnavailable

        raise StorageUnavailable("only the running stack starts agents")

    def stop_task(self, task_arn: str, reason: str) -> None:
        from serverless_openclaw.adapters.embedded.compute import end_all, processes_inside

        folder = self._tasks / task_arn.rsplit("/", 1)[-1]
        if folder.is_dir():
            end_all(processes_inside(folder))

    def describe(self, task_arns: Sequence[str]) -> dict[str, TaskInfo]:
        return {}

    def list_running(self) -> list[str]:
        return []
