"""Fixtures for the control plane: the real moto server (tables provisioned per test prefix),
moto's Cognito with real users and tokens, the local ECS emulator running real processes,
and a small @connections endpoint that records what API Gateway would push to browsers.

Handlers are called through their real `handler(event, context)` with events built from the
AWS samples in tests/events/.
"""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness import SharedServers
from serverless_openclaw import wiring
from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.inbox import Inbox
from serverless_openclaw.adapters.aws.provision import provision
from serverless_openclaw.adapters.memory.identity import MemoryTokens
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import Unauthorized
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.ports.identity import Caller, TokenVerifier
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

EVENTS = Path(__file__).resolve().parents[1] / "events"

NOOP_AGENT = (sys.executable, "-m", "serverless_openclaw.local.noop_agent")
SLEEPER = ("sleep", "3600")
"""A task that never reports anything: for stuck starts and fast state-machine runs."""


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "serverless-openclaw-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:serverless-openclaw-test"
    )
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/serverless-openclaw-test"
    log_stream_name: str = "2024/02/09/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# --- events --------------------------------------------------------------------------------
def connect_event(
    connection_id: str, token: str | None, *, subprotocol: bool = False
) -> dict[str, Any]:
    event = load_event("ws_connect")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    if token is None or subprotocol:
        event.pop("queryStringParameters")
        event.pop("multiValueQueryStringParameters")
    else:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    if subprotocol and token is not None:
        event["headers"]["Sec-WebSocket-Protocol"] = token
        event["multiValueHeaders"]["Sec-WebSocket-Protocol"] = [token]
    return event


def message_event(connection_id: str, body: str | dict[str, Any]) -> dict[str, Any]:
    event = load_event("ws_message")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def disconnect_event(connection_id: str) -> dict[str, Any]:
    event = load_event("ws_disconnect")
    event["requestContext"]["connectionId"] = connection_id
    return event


class TestTokens:
    """ID tokens for made-up user ids (the handlers' tests name their users), accepted beside
    the real verifier's: `Services(verifier=TestTokens(real))`. Tokens from moto's Cognito
    still go through the real JWKS verifier."""

    __test__ = False
    _issued = MemoryTokens(lifetime_s=24 * 3600)

    def __init__(self, real: Callable[[], TokenVerifier] | None = None) -> None:
        self._real = real

    @classmethod
    def token_for(cls, user_id: str) -> str:
        return cls._issued.token_for(user_id)

    def verify(self, token: str | None) -> Caller:
        try:
            caller = self._issued.verify(token)
            if not caller.user_id:  # as the real verifier: a token names its subject
                raise Unauthorized("token has no subject")
            return caller
        except Unauthorized:
            if self._real is None:
                raise
            return self._real().verify(token)


def http_event(
    method: str,
    path: str,
    user_id: str | None,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
    token: str | None = None,
) -> dict[str, Any]:
    """An HTTP API event with `Authorization: Bearer <token>` (`token`, or a `TestTokens`
    token for `user_id`; neither: no header)."""
    event = load_event("http_api")
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    if token is None and user_id is not None:
        token = TestTokens.token_for(user_id)
    if token is None:
        event["headers"].pop("authorization")
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


def scheduled_event() -> dict[str, Any]:
    event = load_event("eventbridge_scheduled")
    event["id"] = str(uuid.uuid4())
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def body_of(response: dict[str, Any]) -> Any:
    raw = response.get("body")
    return json.loads(raw) if raw else None


# --- @connections ---------------------------------------------------------------------------
@dataclass
class ConnectionsEndpoint:
    """API Gateway's @connections as seen by our code; `gone` ids answer 410."""

    url: str
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    gone: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.posts.get(connection_id, []))


def connections_app(endpoint: ConnectionsEndpoint) -> Starlette:
    async def post(request: Request) -> Response:
        connection = unquote(request.path_params["connection_id"])
        if connection in endpoint.gone:
            return JSONResponse({"message": "Gone"}, status_code=410)
        frame = json.loads(await request.body())
        with endpoint.lock:
            endpoint.posts[connection].append(frame)
        return Response(status_code=200)

    async def get(request: Request) -> Response:
        connection = unquote(request.path_params["connection_id"])
        if connection in endpoint.gone:
            return JSONResponse({"message": "Gone"}, status_code=410)
        return JSONResponse({"connectedAt": "2024-02-09T18:11:43Z", "identity": {}})

    async def delete(request: Request) -> Response:
        endpoint.gone.add(unquote(request.path_params["connection_id"]))
        return Response(status_code=204)

    path = "/@connections/{connection_id:path}"
    return Starlette(
        routes=[
            Route(path, post, methods=["POST"]),
            Route(path, get, methods=["GET"]),
            Route(path, delete, methods=["DELETE"]),
        ]
    )


@pytest.fixture
def connections_endpoint(
    monkeypatch: pytest.MonkeyPatch, shared_servers: SharedServers
) -> Iterator[ConnectionsEndpoint]:
    endpoint = ConnectionsEndpoint(url="")
    with shared_servers.mount("connections", connections_app(endpoint)) as handle:
        endpoint.url = handle.url
        monkeypatch.setenv("SOC_CONNECTIONS_URL", handle.url)
        yield endpoint


# --- ECS ------------------------------------------------------------------------------------
@dataclass
class Ecs:
    emulator: EcsEmulator
    url: str

    def alive_tasks_of(self, user_id: str) -> list[str]:
        """ARNs of tasks of the user whose process still exists."""
        alive = []
        for task in list(self.emulator._tasks.values()):
            env = task.overrides.get("containerOverrides", [{}])[0].get("environment", [])
            owner = {e["name"]: e["value"] for e in env}.get("SOC_USER_ID")
            if owner == user_id and task.process is not None and task.process.poll() is None:
                alive.append(task.arn)
        return alive

    def pid(self, arn: str) -> int:
        process = self.emulator._tasks[arn].process
        assert process is not None
        return process.pid

    def kill(self, arn: str) -> None:
        """The task dies (Spot reclaim, OOM): SIGKILL, then wait until ECS reports it."""
        process = self.emulator._tasks[arn].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        wait_for(lambda: self.emulator._tasks[arn].last_status == "STOPPED")


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def _ecs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
    servers: SharedServers,
) -> Iterator[Ecs]:
    emulator = EcsEmulator(
        default=TaskDefinition(command=command), log_dir=tmp_path / "tasks", stop_timeout_s=5
    )
    try:
        with servers.mount("ecs", emulator.app) as handle:
            monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)  # read when clients are made
            yield Ecs(emulator, handle.url)
    finally:
        emulator.close(timeout_s=5)


@pytest.fixture
def ecs(
    aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_servers: SharedServers
) -> Iterator[Ecs]:
    """The ECS emulator running the no-op agent."""
    yield from _ecs(monkeypatch, tmp_path, NOOP_AGENT, shared_servers)


@pytest.fixture
def ecs_sleeper(
    aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_servers: SharedServers
) -> Iterator[Ecs]:
    """The ECS emulator running tasks that never report (the test plays the agent)."""
    yield from _ecs(monkeypatch, tmp_path, SLEEPER, shared_servers)


# --- Cognito --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CognitoUser:
    username: str
    sub: str
    id_token: str
    access_token: str


@dataclass
class Cognito:
    clients: AwsClients
    pool_id: str
    client_id: str
    jwks_url: str
    endpoint: str

    def user(self, username: str | None = None, *, client_id: str | None = None) -> CognitoUser:
        idp = self.clients.cognito_idp()
        name = username or f"user-{uuid.uuid4().hex[:8]}"
        password = "Correct-Horse-9-battery"
        try:
            idp.admin_create_user(UserPoolId=self.pool_id, Username=name, MessageAction="SUPPRESS")
            idp.admin_set_user_password(
                UserPoolId=self.pool_id, Username=name, Password=password, Permanent=True
            )
        except idp.exceptions.UsernameExistsException:
            pass
        answer = idp.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )
        result = answer["AuthenticationResult"]
        attributes = idp.admin_get_user(UserPoolId=self.pool_id, Username=name)["UserAttributes"]
        sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        return CognitoUser(name, sub, result["IdToken"], result["AccessToken"])

    def new_client(self, pool_id: str | None = None) -> str:
        idp = self.clients.cognito_idp()
        return idp.create_user_pool_client(
            UserPoolId=pool_id or self.pool_id,
            ClientName=f"c-{uuid.uuid4().hex[:6]}",
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]

    def other_pool(self) -> Cognito:
        idp = self.clients.cognito_idp()
        pool = idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
        client = self.new_client(pool)
        return Cognito(
            self.clients,
            pool,
            client,
            f"{self.endpoint}/{pool}/.well-known/jwks.json",
            self.endpoint,
        )


@pytest.fixture
def cognito(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Cognito:
    clients = AwsClients(aws.region)
    idp = clients.cognito_idp()
    pool = idp.create_user_pool(PoolName=f"{aws.prefix}-users")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    jwks = f"{aws.endpoint}/{pool}/.well-known/jwks.json"
    monkeypatch.setenv("SOC_USER_POOL_ID", pool)
    monkeypatch.setenv("SOC_USER_POOL_CLIENT_ID", client)
    monkeypatch.setenv("SOC_JWKS_URL", jwks)
    return Cognito(clients, pool, client, jwks, aws.endpoint)


# --- the control plane ----------------------------------------------------------------------
@pytest.fixture
def provisioned(aws: Any) -> AwsClients:
    """The tables and bucket of this test's prefix. The clients also serve the handlers'
    Services: the IAM conformance run records their calls (tests/iam/recording.py)."""
    from tests.iam.recording import observers_from_env

    clients = AwsClients(aws.region, observers=observers_from_env())
    provision(clients, prefix=aws.prefix, state_bucket=aws.bucket)
    return clients


@pytest.fixture
def services(
    aws: Any,
    provisioned: AwsClients,
    cognito: Cognito,
    connections_endpoint: ConnectionsEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Services]:
    """The handlers' Services for this test, installed as the container's so that
    `handler(...)` uses it. ECS is whichever emulator fixture the test asks for (its URL is
    read when the ECS client is first made). Names are a deployment's (`<prefix>-agents`,
    the `<prefix>-agent` family) so recorded calls can be checked against its policies."""
    monkeypatch.setenv("SOC_ECS_CLUSTER", f"{aws.prefix}-agents")
    monkeypatch.setenv("SOC_TASK_DEFINITION", f"{aws.prefix}-agent")
    # The shared dead-letter queue exists before the handlers run (the Storage stack's).
    dead_letters = Inbox(provisioned.sqs(), aws.prefix).dead_letter_arn()
    monkeypatch.setenv("SOC_INBOX_DLQ_ARN", dead_letters)
    monkeypatch.setenv("SOC_SUBNETS", '["subnet-0a1b2c3d"]')
    monkeypatch.setenv("SOC_SECURITY_GROUPS", '["sg-0a1b2c3d"]')
    wired = wire_lambda(HandlerSettings(), clients=provisioned)
    built = Services(wired.settings, wired.ports, verifier=TestTokens(wired.ports.verifier))
    wiring.reset(built)
    yield built
    wiring.reset(None)
    built.close()


def shifted(services: Services, delta: timedelta) -> Services:
    """The same control plane, `delta` later (for the watchdog's timeouts)."""
    return Services(services.settings, services.ports, clock=lambda: datetime.now(UTC) + delta)


def deep(event: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(event)


def run_quiet(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)
