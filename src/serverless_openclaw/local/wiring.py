"""The local stack's wiring (`serverless-openclaw dev`) and its user directory.

`local_handler_settings(DevSettings, ...)` says what the Lambda environment says on AWS;
`wire_local_embedded()` / `wire_local_aws()` give the handlers of the stack their services
from it and the few things the stack makes at start (its identity provider and local compute);
`wire_local_users()` opens the local stack's user directory for `serverless-openclaw user`.
"""

from __future__ import annotations

from pathlib import Path

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.ports import AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import ModelProvider
from serverless_openclaw.ports.compute import Compute
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
