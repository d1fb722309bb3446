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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class AwsCredentials:
    """Explicit credentials of one principal. On AWS every entry point takes its role's from
    the environment (boto3's default chain); locally each component gets those of its own
    principal in moto (`infra/local_iam.py`), so what IAM would refuse is refused there too."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def environment(self) -> dict[str, str]:
        """The same credentials as boto3 reads them from a child process's environment."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call as our code made it (before botocore validates or sends it)."""

    service: str
    """botocore's service name, e.g. `dynamodb`, `apigatewaymanagementapi`."""
    operation: str
    """The API operation, e.g. `PutItem`."""
    params: dict[str, Any]
    region: str
    endpoint_url: str | None = None


CallObserver = Callable[[AwsCall], None]
"""Sees every call before it is sent (tests record them to check them against IAM)."""


class AwsClients:
    """A lazy, thread-safe cache of boto3 clients for one region.

    Build one per process (per Lambda container) and pass it, or the clients it makes, to
    the classes that do I/O. `credentials` replaces boto3's default chain (a component's own
    principal locally); `observers` see every call each client makes.
    """

    def __init__(
        self,
        region: str,
        *,
        config: Config | None = None,
        credentials: AwsCredentials | None = None,
        observers: Sequence[CallObserver] = (),
    ) -> None:
        self.region = region
        self.credentials = credentials
        self._config = config or default_config()
        self._observers = tuple(observers)
        if credentials is None:
            self._session = boto3.session.Session(region_name=region)
        else:
            self._session = boto3.session.Session(
                region_name=region,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(
        self, service: str, *, endpoint_url: str | None = None, config: Config | None = None
    ) -> Any:
        """Any service's client (the typed methods below name those the handlers use)."""
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
                if self._observers:
                    self._observe(client, service, endpoint_url)
                self._clients[key] = client
            return client

    def _observe(self, client: Any, service: str, endpoint_url: str | None) -> None:
        observers = self._observers
        region = self.region

        def before_build(params: dict[str, Any], model: Any, **_: Any) -> None:
            call = AwsCall(
                service=service,
                operation=str(model.name),
                params=dict(params),
                region=region,
                endpoint_url=endpoint_url,
            )
            for observer in observers:
                observer(call)

        client.meta.events.register("before-parameter-build", before_build)

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self.client("dynamodb")
        return client

    def sqs(self) -> SQSClient:
        client: SQSClient = self.client(
            "sqs", config=default_config(read_timeout=LONG_POLL_READ_TIMEOUT_S)
        )
        return client

    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    def ecs(self) -> ECSClient:
        client: ECSClient = self.client("ecs")
        return client

    def ssm(self) -> SSMClient:
        client: SSMClient = self.client("ssm")
        return client

    def cognito_idp(self) -> CognitoIdentityProviderClient:
        client: CognitoIdentityProviderClient = self.client("cognito-idp")
        return client

    def connections(self, endpoint_url: str) -> ApiGatewayManagementApiClient:
        """The @connections API of one WebSocket API stage (no retries on 410 Gone: botocore
        does not retry it anyway, and a gone connection stays gone)."""
        client: ApiGatewayManagementApiClient = self.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url
        )
        return client
