"""The `aws` adapter family: every port over boto3, clients built lazily and shared."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.compute import EcsCompute, EcsSettings
from serverless_openclaw.adapters.aws.connections_api import ApiGatewayConnections
from serverless_openclaw.adapters.aws.inbox import Inbox, InboxConsumer
from serverless_openclaw.adapters.aws.secrets import SecretReader
from serverless_openclaw.adapters.aws.state_bucket import StateBucket
from serverless_openclaw.adapters.aws.stores import (
    ConnectionStore,
    ConversationStore,
    CounterStore,
    SettingsStore,
    TaskStateStore,
    TelegramStore,
)
from serverless_openclaw.adapters.aws.tables import IDEMPOTENCY
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.adapters.jwks import TokenVerifier
from serverless_openclaw.contracts.records import UserSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer


@dataclass(frozen=True)
class AwsConfig:
    """Where this deployment's resources are (from the entry point's settings)."""

    region: str
    prefix: str
    state_bucket: str
    connections_url: str | None = None
    dead_letter_arn: str | None = None
    """The shared dead-letter queue of every inbox (None: found or made by name)."""
    ecs: EcsSettings | None = None
    user_defaults: UserSettings = field(default_factory=UserSettings)
    """The settings of a person for every field they never chose (the deployment's
    defaults, e.g. `--idle-timeout`)."""
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    jwt_issuer: str | None = None
    jwks_url: str | None = None

    @property
    def issuer(self) -> str:
        return self.jwt_issuer or default_issuer(self.region, self.user_pool_id)


def default_issuer(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


class AwsPorts:
    """Implements `ports.factory.PortFactory`; each port is made once, on first use."""

    def __init__(self, config: AwsConfig, *, clients: AwsClients | None = None) -> None:
        self.config = config
        self.clients = clients or AwsClients(config.region)

    @cached_property
    def _connections(self) -> ConnectionStore:
        return ConnectionStore(self.clients.dynamodb(), self.config.prefix)

    @cached_property
    def _counters(self) -> CounterStore:
        return CounterStore(self.clients.dynamodb(), self.config.prefix)

    def connections(self) -> ConnectionStore:
        return self._connections

    def task_state(self) -> TaskStateStore:
        return TaskStateStore(self.clients.dynamodb(), self.config.prefix)

    def conversations(self) -> ConversationStore:
        return ConversationStore(self.clients.dynamodb(), self.config.prefix)

    def user_settings(self) -> SettingsStore:
        return SettingsStore(
            self.clients.dynamodb(), self.config.prefix, defaults=self.config.user_defaults
        )

    def counters(self) -> CounterStore:
        return self._counters

    def telegram(self) -> TelegramStore:
        return TelegramStore(self.clients.dynamodb(), self.config.prefix, self._counters)

    def inbox(self) -> Inbox:
        return Inbox(
            self.clients.sqs(), self.config.prefix, dead_letter_arn=self.config.dead_letter_arn
        )

    def inbox_consumer(self, queue_url: str) -> InboxConsumer:
        return InboxConsumer(self.clients.sqs(), queue_url)

    def state_blobs(self, prefix: str) -> StateBucket:
        return StateBucket(self.clients.s3(), self.config.state_bucket, prefix)

    def secrets(self) -> SecretReader:
        return SecretReader(self.clients.ssm())

    def compute(self) -> EcsCompute:
        if self.config.ecs is None:
            raise RuntimeError("this entry point has no compute settings")
        return EcsCompute(self.clients.ecs(), self.config.ecs)

    def connections_api(self) -> ApiGatewayConnections | None:
        url = self.config.connections_url
        return ApiGatewayConnections(self.clients.connections(url)) if url else None

    def users(self) -> UserAdmin:
        return UserAdmin(self.clients.cognito_idp(), self.config.user_pool_id)

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(
            issuer=self.config.issuer,
            client_id=self.config.user_pool_client_id,
            jwks_url=self.config.jwks_url,
        )

    def idempotency(self) -> BasePersistenceLayer:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=IDEMPOTENCY.physical_name(self.config.prefix),
            boto3_client=self.clients.dynamodb(),
        )
