"""The one place that turns settings into adapters, per entry point.

- `wire_lambda()`: a Lambda container (the control-plane handlers), from `HandlerSettings`.
- `wire_task()`: the agent task, from `AgentSettings` (see agent/__main__.py).
- the local stack wires itself in `local/stack.py` through `ports_for_backend`.

`SOC_BACKEND` chooses the adapter family: `aws` (boto3; on AWS, or against moto locally) or
`embedded` (SQLite under `SOC_EMBEDDED_DIR`: the local product). Nothing else in the package
builds clients or reads the environment.
"""

from __future__ import annotations

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.compute import EcsSettings
from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import UserSettings
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.settings import AgentSettings, HandlerSettings


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
    anyone in)."""
    names = settings.names
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
