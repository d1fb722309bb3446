"""The local stack on the `aws` backend (`serverless-openclaw dev --backend aws`): the
production boto3 adapters against moto and the ECS emulator, through the same scenarios as
the default embedded backend. This module is how CI proves the boto3 code end to end (the
IAM work runs it with IAM enforced); the rest of the suite runs on the embedded backend
(`SOC_TEST_BACKEND=aws` runs all of it here too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import DevStackHandle

from .test_local_stack import (  # noqa: F401 - collected here, on this module's stacks
    test_cold_start_streams_reply_and_history_is_listed,
    test_history_survives_a_restart_of_the_dev_command,
    test_two_users_get_separate_agents_and_never_see_each_other,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime: object
) -> Iterator[DevStackHandle]:
    stack = DevStackHandle(tmp_path_factory.mktemp("aws-stack") / "state", backend="aws")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def fresh_dev_stack(tmp_path: Path, openclaw_runtime: object) -> Iterator[DevStackHandle]:
    stack = DevStackHandle(tmp_path / "state", backend="aws")
    stack.start()
    yield stack
    stack.stop()


def test_this_module_runs_on_moto(dev_stack: DevStackHandle) -> None:
    assert dev_stack.info["backend"] == "aws"
    assert dev_stack.aws("dynamodb").list_tables()["TableNames"]
