# ruff: noqa: F811 - fixtures re-used from other groups are imported by name
"""IAM enforced in moto from the synthesized policies (`infra/local_iam.py`).

These tests get their own moto server (its IAM check is global to the process): setup runs
as the administrator, each component with the credentials of its own role, whose statements
are the synthesized ones resolved to this test's names. The control plane's fixtures
(Cognito, @connections, the ECS emulator) are reused. Each person's agent task runs as that
person's own role (`people.grant(user)` makes it, as `user add` does): RunTask passes it
and the ECS emulator gives the task its credentials, as ECS does.
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
from tests.telegram.conftest import WEBHOOK_SECRET, FakeBot, clock, fake_bot  # noqa: F401

from harness import SharedServers
from serverless_openclaw import wiring
from serverless_openclaw.adapters.aws.agent_roles import role_arn_prefix
from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.app.services import Services
from serverless_openclaw.infra.iam_simulator import IamSimulator
from serverless_openclaw.infra.local_iam import (
    ACCOUNT,
    LocalPeople,
    bootstrap_admin,
    principals,
    set_enforcement,
)
from serverless_openclaw.infra.node import find_or_install_node
from serverless_openclaw.infra.policies import Names, RolePolicy, role_policies
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.loopback import free_port
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

pytestmark = [pytest.mark.infra, pytest.mark.iam]

COMPONENTS = ("handlers", "watchdog")
"""The control plane's principals; each agent task has its person's (`people`)."""


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
            [sys.executable, "-m", "serverless_openclaw.local.moto_server", "-p", str(port)],
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


@pytest.fixture(scope="session")
def simulator() -> IamSimulator:
    """The IAM policy evaluator (@cloud-copilot/iam-simulate, installed on first use)."""
    return IamSimulator(find_or_install_node())


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
        "SOC_AGENT_ROLE_ARN_PREFIX": role_arn_prefix(prefix, account=ACCOUNT),
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
def people(moto_server: IamMoto, aws: AwsEnv, policies: dict[str, RolePolicy]) -> LocalPeople:
    """People's own task roles (`grant(user)` is what `user add` does)."""
    return LocalPeople(
        moto_server.url, policies["agent-task"], prefix=aws.prefix, admin=moto_server.admin
    )


def person_credentials(people: LocalPeople, user_id: str) -> AwsCredentials:
    """What ECS gives the task of `user_id` (made with their role if need be)."""
    return people.credentials(people.roles.ensure(user_id))


@pytest.fixture
def ecs(
    aws: AwsEnv,
    people: LocalPeople,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    shared_servers: SharedServers,
) -> Iterator[Ecs]:
    """The ECS emulator; every task runs the no-op agent as its person's role."""
    emulator = EcsEmulator(
        default=TaskDefinition(command=NOOP_AGENT),
        log_dir=tmp_path / "tasks",
        stop_timeout_s=5,
        task_role=lambda arn: people.credentials(arn).environment(),
    )
    try:
        with shared_servers.mount("ecs", emulator.app) as handle:
            monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)
            yield Ecs(emulator, handle.url)
    finally:
        emulator.close(timeout_s=5)


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
    built.close()


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


@pytest.fixture
def telegram_on(aws: AwsEnv, fake_bot: FakeBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner stored the bot's secrets; the handlers read them (their role may)."""
    ssm = AwsClients(aws.region).ssm()
    for name, value in (("bot-token", fake_bot.token), ("webhook-secret", WEBHOOK_SECRET)):
        ssm.put_parameter(
            Name=f"/{aws.prefix}/telegram/{name}", Value=value, Type="SecureString", Overwrite=True
        )  # Overwrite: a retried first attempt (slow moto) must not fail the setup
    monkeypatch.setenv("SOC_TELEGRAM_BOT_TOKEN_PARAM", f"/{aws.prefix}/telegram/bot-token")
    monkeypatch.setenv(
        "SOC_TELEGRAM_WEBHOOK_SECRET_PARAM", f"/{aws.prefix}/telegram/webhook-secret"
    )
    monkeypatch.setenv("SOC_TELEGRAM_API_BASE", fake_bot.url)
