"""One contract suite per port, run against every adapter family.

`family` is parametrized over the families: `memory` (dicts, a `FakeClock`), `embedded`
(SQLite and a blob directory in this test's tmp dir, a `FakeClock`) and `aws` (boto3 against
the session's moto server, tables and bucket provisioned under this test's own prefix).
Tests see a family only through its `PortFactory` and a few helpers:

- `family.now()`: the family's current time (the fake clock's, or the real one for aws);
- `family.advance(seconds)`: time passes (the fake clock moves; aws sleeps, so only short);
- `family.travel()`: skip on families whose clock cannot be moved (a 5-minute window);
- `family.not_on_moto(reason)`: skip on aws where the test would check moto rather than our
  adapter (e.g. `family.races()`: moto serves requests on threads and does not serialise
  conditional writes; DynamoDB does);
- `@pytest.mark.aws_gap(reason, raises=...)`: a known gap of the aws adapters (outside this
  suite's code): xfail, strict, on aws only, so the day it is fixed the marker must go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import FakeClock, MemoryPorts
from serverless_openclaw.ports.factory import PortFactory

FAMILIES = ("memory", "embedded", "aws")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aws_gap(reason, raises=None): a known gap of the aws adapters, xfail (strict) on aws",
    )


@dataclass
class Family:
    name: str
    ports: PortFactory
    clock: FakeClock | None
    put_secret: Callable[[str, str], None]
    write_raw_manifest: Callable[[str, bytes], None]
    """Put any bytes where a prefix's manifest goes (a damaged backup)."""
    close: Callable[[], None] = lambda: None

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def travel(self) -> None:
        """This test moves time by minutes or more: only families with a fake clock."""
        if self.clock is None:
            pytest.skip(f"{self.name}: time cannot be moved (real clock)")

    def not_on_moto(self, reason: str) -> None:
        """Where moto behaves unlike the AWS service, a test on aws would check moto."""
        if self.name == "aws":
            pytest.skip(f"moto: {reason}")

    def races(self) -> None:
        """This test races threads through conditional writes."""
        self.not_on_moto("does not serialise concurrent conditional writes")


def _memory(clock: FakeClock) -> Family:
    ports = MemoryPorts(clock=clock)

    def write_raw_manifest(prefix: str, body: bytes) -> None:
        ports.state_blobs(prefix).write_raw_manifest(body)

    return Family("memory", ports, clock, ports.secrets().put, write_raw_manifest)


@pytest.fixture(scope="session")
def aws_clients() -> Any:
    """boto3 clients shared by the session (made lazily, under a test's `aws` environment,
    which always points at the same moto server): building clients per test is slow."""
    from serverless_openclaw.adapters.aws.clients import AwsClients

    return AwsClients("us-east-1")


def _provision(clients: Any, prefix: str, bucket: str) -> None:
    """`adapters/aws/provision.py`'s tables and bucket, the fast way for a fresh prefix in
    moto (tables in parallel, ACTIVE at once; no TTL, which moto does not enforce)."""
    from serverless_openclaw.adapters.aws.provision import create_state_bucket, table_definition
    from serverless_openclaw.adapters.aws.tables import ALL_TABLES

    db = clients.dynamodb()
    with ThreadPoolExecutor(len(ALL_TABLES)) as pool:
        list(pool.map(lambda spec: db.create_table(**table_definition(spec, prefix)), ALL_TABLES))
    create_state_bucket(clients.s3(), bucket, clients.region)


def _embedded(clock: FakeClock, root: Path) -> Family:
    from serverless_openclaw.adapters.embedded import EmbeddedPorts

    ports = EmbeddedPorts(root, clock=clock)

    def write_raw_manifest(prefix: str, body: bytes) -> None:
        ports.state_blobs(prefix).write_raw_manifest(body)

    return Family(
        "embedded", ports, clock, ports.secrets().put, write_raw_manifest, close=ports.close
    )


def _aws(request: pytest.FixtureRequest) -> Family:
    from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts

    env: Any = request.getfixturevalue("aws")
    clients = request.getfixturevalue("aws_clients")
    _provision(clients, env.prefix, env.bucket)
    ports = AwsPorts(
        AwsConfig(region=env.region, prefix=env.prefix, state_bucket=env.bucket),
        clients=clients,
    )

    def put_secret(name: str, value: str) -> None:
        clients.ssm().put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def write_raw_manifest(prefix: str, body: bytes) -> None:
        clients.s3().put_object(Bucket=env.bucket, Key=f"{prefix}manifest.json", Body=body)

    return Family("aws", ports, None, put_secret, write_raw_manifest)


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Family]:
    name = request.param
    gap = request.node.get_closest_marker("aws_gap")
    if gap is not None and name == "aws":
        request.applymarker(
            pytest.mark.xfail(
                reason=gap.args[0] if gap.args else "aws gap",
                raises=gap.kwargs.get("raises"),
                strict=True,
            )
        )
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    if name == "memory":
        built = _memory(clock)
    elif name == "embedded":
        built = _embedded(clock, tmp_path / "state")
    else:
        built = _aws(request)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def ports(family: Family) -> PortFactory:
    return family.ports
