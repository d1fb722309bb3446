"""`serverless-openclaw user ...` against the running local stack, with no extra environment:
run in the folder where `serverless-openclaw dev` keeps `.dev-state/`, it finds the stack, adds
a person with a temporary password it prints, and that person's first sign-in must choose a
new one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .test_dev_command import dev, port, stopped_within, wait_ready  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SOC_"))}
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "user", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False,
    )  # fmt: skip


@pytest.fixture(params=["embedded", "aws"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, port: int) -> Iterator[dict[str, object]]:  # noqa: F811
    process = dev(tmp_path / ".dev-state", port, backend=request.param)
    try:
        wait_ready(process, port)
        info_path = tmp_path / ".dev-state" / "dev.json"
        deadline = time.monotonic() + 30
        while not info_path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = json.loads(info_path.read_text())
        yield info
    finally:
        process.send_signal(signal.SIGTERM)
        stopped_within(process, 30)


def test_user_add_list_remove_reach_the_running_stack(
    stack: dict[str, object], tmp_path: Path
) -> None:
    added = cli("add", "ada@example.com", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    password = re.search(r"temporary password (\S+):", added.stdout)
    assert password, added.stdout
    listed = cli("list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    users = {u["email"]: u for u in json.loads(listed.stdout)}
    assert users["ada@example.com"]["status"] == "FORCE_CHANGE_PASSWORD"

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=str(stack["cognito_endpoint"]),
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    client_id = str(stack["user_pool_client_id"])
    if stack["backend"] == "embedded":  # moto never checks a password
        with pytest.raises(ClientError) as refused:
            idp.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": "Wrong-Passw0rd1"},
            )
        assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    challenge = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": password.group(1)},
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = idp.respond_to_auth_challenge(
        ClientId=client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ada@example.com", "NEW_PASSWORD": "Chosen-Passw0rd"},
    )
    assert "IdToken" in done["AuthenticationResult"]
    listed = cli("list", "--json", cwd=tmp_path)
    assert {u["email"]: u["status"] for u in json.loads(listed.stdout)}["ada@example.com"] == (
        "CONFIRMED"
    )
    assert cli("remove", "ada@example.com", cwd=tmp_path).returncode == 0
    again = cli("remove", "ada@example.com", cwd=tmp_path)
    assert again.returncode == 1
    assert "not found" in again.stderr
