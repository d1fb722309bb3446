# ruff: noqa: F811 - fixtures re-used from other groups are imported by name
"""IAM enforced in moto from the synthesized policies (`infra/local_iam.py`).

These tests get their own moto server (its IAM check is global to the process): setup runs
as the administrator, each component with the credentials of its own role, whose statements
are the synthesized ones resolved to this test's names. The control plane's fixtures
(Cognito, @connections, the ECS emulator) are reused; the ECS emulator gives every task the
agent role's credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import AwsEnv, MotoServer
from tests.control_plane.conftest import (  # noqa: F401 - fixtures
    NOOP_AGENT,
    Ecs,
    cognito,
    connections_endpoint,
    provisioned,
)
from tests.infra.conftest import Synthesized, lambda_bundle, synthesized  # noqa: F401
from tests.telegram.conftest import FakeBot, clock, fake_bot  # noqa: F401

from serverless_openclaw import wiring
from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.app.services import Services
from serverless_openclaw.infra.local_iam import (
    ACCOUNT,
    bootstrap_admin,
    principals,
    set_enforcement,
)
from serverless_openclaw.infra.policies import Names, RolePolicy, role_policies
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.local.serve import free_port, serve_in_thread
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

pytestmark = [pytest.mark.infra, pytest.mark.iam]

COMPONENTS = ("handlers", "watchdog", "agent-task")


@dataclass(frozen=True)
class IamMoto(MotoServer):
    admin: AwsCredentials


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamMoto]:
    """A moto server of these tests only, with its IAM check on."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto-iam") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH"},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start; see {log}") from None
            time.sleep(0.1)
    admin = bootstrap_admin(url, "us-east-1")
    set_enforcement(url, on=True)
    yield IamMoto(url, admin)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def aws(moto_server: IamMoto, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    """The root `aws` fixture, with the administrator's credentials for setup."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = AwsEnv(endpoint=moto_server.url, prefix=prefix)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for key, value in {
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": moto_server.admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": moto_server.admin.secret_access_key,
        "AWS_REGION": env.region,
        "AWS_DEFAULT_REGION": env.region,
        "SOC_PREFIX": prefix,
        "SOC_STATE_BUCKET": env.bucket,
        "SOC_ECS_CLUSTER": f"{prefix}-agents",
        "SOC_TASK_DEFINITION": f"{prefix}-agent",
        "SOC_SUBNETS": '["subnet-0a1b2c3d"]',
        "SOC_SECURITY_GROUPS": '["sg-0a1b2c3d"]',
    }.items():
        monkeypatch.setenv(key, value)
    return env


def templates_of(synth: Synthesized) -> dict[str, Any]:
    return {kind: synth.template_json(kind) for kind in synth.templates}


def names_for(aws: AwsEnv) -> Names:
    return Names(account=ACCOUNT, region=aws.region, prefix=aws.prefix, state_bucket=aws.bucket)


@pytest.fixture
def policies(synthesized: Synthesized, aws: AwsEnv) -> dict[str, RolePolicy]:
    """The synthesized roles, resolved to this test's names."""
    return role_policies(templates_of(synthesized), names_for(aws))


@pytest.fixture
def credentials(
    moto_server: IamMoto, aws: AwsEnv, policies: dict[str, RolePolicy]
) -> dict[str, AwsCredentials]:
    """Each component's own principal in moto."""
    return principals(
        moto_server.url,
        {name: policies[name] for name in COMPONENTS},
        region=aws.region,
        admin=moto_server.admin,
        name_prefix=aws.prefix,
    )


@pytest.fixture
def ecs(
    aws: AwsEnv,
    credentials: dict[str, AwsCredentials],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Ecs]:
    """The ECS emulator; every task runs the no-op agent with the agent role's credentials."""
    emulator = EcsEmulator(
        default=TaskDefinition(
            command=NOOP_AGENT, environment=credentials["agent-task"].environment()
        ),
        log_dir=tmp_path / "tasks",
        stop_timeout_s=5,
    )
    handle = serve_in_thread(emulator.app)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)
    try:
        yield Ecs(emulator, handle.url)
    finally:
        emulator.close(timeout_s=5)
        handle.stop()


@pytest.fixture
def dead_letter_arn(provisioned: AwsClients, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shared dead-letter queue, made by the administrator as the Storage stack does on
    AWS, its ARN given to the handlers as there (`SOC_INBOX_DLQ_ARN`)."""
    from serverless_openclaw.adapters.aws.inbox import Inbox

    arn = Inbox(provisioned.sqs(), aws.prefix).dead_letter_arn()
    monkeypatch.setenv("SOC_INBOX_DLQ_ARN", arn)
    return arn


@pytest.fixture
def handler_services(
    provisioned: AwsClients,
    dead_letter_arn: str,
    cognito: Any,
    connections_endpoint: Any,
    ecs: Ecs,
    credentials: dict[str, AwsCredentials],
) -> Iterator[Services]:
    """The request handlers' Services, as the handler role; installed as the container's."""
    built = wire_lambda(HandlerSettings(), credentials=credentials["handlers"])
    wiring.reset(built)
    yield built
    wiring.reset(None)


@pytest.fixture
def watchdog_services(
    provisioned: AwsClients,
    dead_letter_arn: str,
    cognito: Any,
    connections_endpoint: Any,
    ecs: Ecs,
    credentials: dict[str, AwsCredentials],
) -> Services:
    """The watchdog's Services, as the watchdog role."""
    return wire_lambda(HandlerSettings(), credentials=credentials["watchdog"])
