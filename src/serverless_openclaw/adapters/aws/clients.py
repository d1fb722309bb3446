"""boto3 clients, created lazily, once, and shared (boto3 clients are thread-safe; sessions are
not, so each factory owns its session behind a lock).

Endpoints come from boto3's own configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECS`, ...),
which is how the same code reaches moto and the local ECS emulator; only the @connections API
needs an explicit endpoint (it is per WebSocket API).

Timeouts are short because a Lambda waiting on a dead endpoint burns the user's patience and
the owner's money; SQS gets a longer read timeout so a 20 s long poll fits.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

CONNECT_TIMEOUT_S: Final = 3.0
READ_TIMEOUT_S: Final = 10.0
LONG_POLL_READ_TIMEOUT_S: Final = 30.0
"""Must exceed SQS's maximum WaitTimeSeconds (20)."""


def default_config(read_timeout: float = READ_TIMEOUT_S, max_attempts: int = 3) -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=50,
    )


class AwsClients:
    """A lazy, thread-safe cache of boto3 clients for one region.

    Build one per process (per Lambda container) and pass it, or the clients it makes, to
    the classes that do I/O.
    """

    def __init__(self, region: str, *, config: Config | None = None) -> None:
        self.region = region
        self._config = config or default_config()
        self._session = boto3.session.Session(region_name=region)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None], Any] = {}

    def _client(
        self, service: str, *, endpoint_url: str | None = None, config: Config | None = None
    ) -> Any:
        key = (service, endpoint_url)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=endpoint_url,
                    config=config or self._config,
                )
                self._clients[key] = client
            return client

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    def sqs(self) -> SQSClient:
        client: SQSClient = self._client(
            "sqs", config=default_config(read_timeout=LONG_POLL_READ_TIMEOUT_S)
        )
        return client

    def s3(self) -> S3Client:
        client: S3Client = self._client("s3")
        return client

    def ecs(self) -> ECSClient:
        client: ECSClient = self._client("ecs")
        return client

    def ssm(self) -> SSMClient:
        client: SSMClient = self._client("ssm")
        return client

    def cognito_idp(self) -> CognitoIdentityProviderClient:
        client: CognitoIdentityProviderClient = self._client("cognito-idp")
        return client

    def connections(self, endpoint_url: str) -> ApiGatewayManagementApiClient:
        """The @connections API of one WebSocket API stage (no retries on 410 Gone: botocore
        does not retry it anyway, and a gone connection stays gone)."""
        client: ApiGatewayManagementApiClient = self._client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url
        )
        return client
