"""The Lambda containers' wiring: settings to adapters for the control-plane handlers.

One wiring place per entry point: this module for the Lambda handlers (`wire_lambda`, and the
container's one `Services`, `current()`), `agent/wiring.py` for the agent task, and
`local/wiring.py` for the local stack (`serverless-openclaw dev`) and its user directory.
Nothing else in the package builds clients or reads the environment.

Only the production (boto3) adapters are reachable from here: this module is in the Lambda
bundle, and the local product's embedded family (SQLite, argon2) is not.
"""

from __future__ import annotations

import threading

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.compute import EcsSettings
from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import UserSettings
from serverless_openclaw.settings import HandlerSettings


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


_lock = threading.Lock()
_current: Services | None = None


def current() -> Services:
    """This container's Services, wired from the environment on first call."""
    global _current
    with _lock:
        if _current is None:
            _current = wire_lambda()
        return _current


def reset(services: Services | None = None) -> None:
    """Forget (or replace) this container's Services: the dev stack and tests."""
    global _current
    with _lock:
        _current = services
