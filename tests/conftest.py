"""Fixtures shared by every test group.

- `moto_server`: one real moto server per session, in its own process, reached over HTTP.
- `aws`: environment for boto3 pointing at it, plus a unique resource prefix per test so that
  tests never see each other's tables, queues or buckets (no reset between tests).
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

import httpx
import pytest

from serverless_openclaw.local.serve import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class MotoServer:
    url: str


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
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
    yield MotoServer(url)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass(frozen=True)
class AwsEnv:
    endpoint: str
    prefix: str
    region: str = "us-east-1"

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-state"


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    """boto3 (and our settings) pointed at moto, with a prefix of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = AwsEnv(endpoint=moto_server.url, prefix=prefix)
    for key, value in {
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": env.region,
        "AWS_DEFAULT_REGION": env.region,
        "SOC_PREFIX": prefix,
        "SOC_STATE_BUCKET": env.bucket,
    }.items():
        monkeypatch.setenv(key, value)
    return env


# --- OpenClaw and the offline model ---------------------------------------------------------
@dataclass(frozen=True)
class OfflineModel:
    """The offline model server; `script()` sets its rules for the next requests."""

    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, rules: list[dict[str, object]], **defaults: object) -> None:
        response = httpx.post(f"{self.url}/_script", json={"rules": rules, **defaults}, timeout=5)
        response.raise_for_status()

    def reset(self) -> None:
        self.script([], default_delay_ms=15.0, default_chunk_chars=12)

    def requests(self) -> int:
        return int(httpx.get(f"{self.url}/_stats", timeout=5).json()["requests"])


@pytest.fixture(scope="session")
def offline_model() -> Iterator[OfflineModel]:
    from serverless_openclaw.local.offline_model import create_app
    from serverless_openclaw.local.serve import serve_in_thread

    handle = serve_in_thread(create_app())
    yield OfflineModel(handle.url)
    handle.stop()


@pytest.fixture(scope="session")
def openclaw_runtime():  # type: ignore[no-untyped-def]
    """The pinned OpenClaw, installed on first use into the per-user cache (~30 s once)."""
    from serverless_openclaw.agent.openclaw.runtime import install

    return install(progress=lambda line: print(f"[openclaw install] {line}", flush=True))
