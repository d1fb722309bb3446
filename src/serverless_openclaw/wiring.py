"""The one place that turns settings into adapters, per entry point.

- `wire_lambda()`: a Lambda container (the control-plane handlers), from `HandlerSettings`.
- `wire_task()`: the agent task, from `AgentSettings` (see agent/__main__.py).
- `wire_local_embedded()` / `wire_local_aws()`: the handlers of the local stack
  (`serverless-openclaw dev`), from `local_handler_settings(DevSettings, ...)` and the few
  things the stack makes at start (its identity provider and local compute);
  `wire_local_users()`: the local stack's user directory, for `serverless-openclaw user`.

`SOC_BACKEND` (`BackendSettings`) chooses the adapter family of an entry point: `aws` (boto3;
on AWS, or against moto locally) or `embedded` (SQLite under `SOC_EMBEDDED_DIR`: the local
product). Nothing else in the package builds clients or reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.compute import EcsSettings
from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import ModelProvider, UserSettings
from serverless_openclaw.ports.compute import Compute
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import (
    AgentSettings,
    AuthSettings,
    ComputeSettings,
    DevSettings,
    HandlerSettings,
    NamesSettings,
    TelegramSettings,
)


def aws_config(settings: HandlerSettings) -> AwsConfig:
    c = settings.compute
    return AwsConfig(
        region=settings.names.region,
        prefix=settings.names.prefix,
        state_bucket=settings.names.state_bucket,
        connections_url=settings.names.connections_url,
        dead_letter_arn=settings.names.inbox_dlq_arn,
        user_defaults=UserSettings(idleTimeoutMinutes=settings.default_idle_timeout_minutes),
        ecs=EcsSettings(
            cluster=c.ecs_cluster,
            task_definition=c.task_definition,
            container_name=c.container_name,
            subnets=tuple(c.subnets),
            security_groups=tuple(c.security_groups),
            capacity_provider=c.capacity_provider,
            assign_public_ip=c.assign_public_ip,
        ),
        user_pool_id=settings.auth.user_pool_id,
        user_pool_client_id=settings.auth.user_pool_client_id,
        jwt_issuer=settings.auth.jwt_issuer,
        jwks_url=settings.auth.jwks_url,
    )


def wire_lambda(
    settings: HandlerSettings | None = None,
    *,
    clients: AwsClients | None = None,
    credentials: AwsCredentials | None = None,
) -> Services:
    """A Lambda container's services (`clients`: share boto3 clients, e.g. in tests;
    `credentials`: this entry point's own principal, locally — on AWS the role's come from
    the environment)."""
    settings = settings or HandlerSettings()
    if clients is None and credentials is not None:
        clients = AwsClients(settings.names.region, credentials=credentials)
    return Services(settings, AwsPorts(aws_config(settings), clients=clients))


def wire_task(
    settings: AgentSettings,
    *,
    clients: AwsClients | None = None,
    credentials: AwsCredentials | None = None,
) -> PortFactory:
    """The agent task's ports: its own user's data only (it never starts tasks or signs
    anyone in). On the embedded backend it opens the local stack's database (`SOC_BACKEND=
    embedded`, `SOC_EMBEDDED_DIR`) and pushes through the API Gateway emulator."""
    names = settings.names
    if settings.storage.backend == "embedded":
        from serverless_openclaw.adapters.embedded import EmbeddedPorts
        from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections

        if settings.storage.embedded_dir is None:
            raise ValueError("SOC_EMBEDDED_DIR is required with SOC_BACKEND=embedded")
        url = names.connections_url
        return EmbeddedPorts(
            settings.storage.embedded_dir,
            connections_api=LoopbackConnections(url) if url else None,
        )
    if clients is None and credentials is not None:
        clients = AwsClients(names.region, credentials=credentials)
    return AwsPorts(
        AwsConfig(
            region=names.region,
            prefix=names.prefix,
            state_bucket=names.state_bucket,
            connections_url=names.connections_url,
            dead_letter_arn=names.inbox_dlq_arn,
        ),
        clients=clients,
    )


# --- the local stack ---------------------------------------------------------------------------
LOCAL_STAGE = "local"
LOCAL_CLUSTER = "soc-dev"
LOCAL_TASK_DEFINITION = "soc-agent"


def local_state_bucket(dev: DevSettings) -> str:
    return f"{dev.prefix}-state"


def local_secret_names(dev: DevSettings) -> tuple[str, str]:
    """Where the local stack keeps the bot token and the webhook secret (SSM names on AWS)."""
    return f"/{dev.prefix}/telegram/bot-token", f"/{dev.prefix}/telegram/webhook-secret"


def local_handler_settings(
    dev: DevSettings,
    *,
    api_url: str,
    auth: AuthSettings,
    telegram_api_base: str,
    model_provider: ModelProvider,
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
            ecs_cluster=LOCAL_CLUSTER,
            task_definition=LOCAL_TASK_DEFINITION,
            subnets=["subnet-local"],
            security_groups=["sg-local"],
        ),
        telegram=TelegramSettings(
            telegram_api_base=telegram_api_base,
            telegram_bot_token_param=token_name,
            telegram_webhook_secret_param=secret_name,
        ),
        default_model_provider=model_provider,
    )


def wire_local_aws(settings: HandlerSettings) -> Services:
    """The `aws` backend of the dev stack: the production boto3 adapters against the embedded
    moto and the ECS emulator. boto3 finds them through its own standard variables
    (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECS`), which the stack sets for its process.

    One function on purpose: running this backend with IAM enforced means handing it clients
    with the handler role's credentials here, and nowhere else."""
    return Services(
        settings, AwsPorts(aws_config(settings), clients=AwsClients(settings.names.region))
    )


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
    only while that stack runs. `NotFound` when no stack ever ran there."""
    import json

    from serverless_openclaw.core.errors import NotFound

    info_path = state_dir / "dev.json"
    if not info_path.exists():
        raise NotFound(f"no local stack has run in {state_dir} (start `serverless-openclaw dev`)")
    info = json.loads(info_path.read_text())
    if info.get("backend", "aws") == "embedded":
        from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity

        return EmbeddedIdentity(Path(info.get("database") or state_dir / "state.db"))
    import boto3

    from serverless_openclaw.adapters.aws.clients import default_config
    from serverless_openclaw.adapters.aws.users import UserAdmin

    client = boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any credentials
        region_name=info["region"],
    ).client("cognito-idp", endpoint_url=info["moto_url"], config=default_config())
    return UserAdmin(client, info["user_pool_id"])
