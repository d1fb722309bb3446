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
    from serverless_openclaw.runtime.installer import install

    return install(progress=lambda line: print(f"[openclaw install] {line}", flush=True))


# --- the whole local stack (`serverless-openclaw dev`) ---------------------------------------
TEST_BACKEND = os.environ.get("SOC_TEST_BACKEND", "embedded")
"""The backend of the shared dev stack: the product's default; CI also runs the e2e suite with
SOC_TEST_BACKEND=aws (boto3 against moto)."""
DEV_TEST_ENV = {
    # Fast control-plane clocks so that idle-outs and wake-ups fit in a test run.
    "SOC_DEV_WATCHDOG_INTERVAL_SECONDS": "2",
    "SOC_MIN_UPTIME_SECONDS": "0",
    "SOC_DEV_AGENT_SYNC_INTERVAL_SECONDS": "300",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def free_port_pair() -> int:
    """A free port whose next one is free too (the aws backend's moto takes port + 1)."""
    from serverless_openclaw.local.serve import port_is_free

    while True:
        port = free_port()
        if port < 65535 and port_is_free("127.0.0.1", port + 1):
            return port


@dataclass
class TestUser:
    email: str
    password: str
    user_id: str
    stack: DevStackHandle

    def tokens(self) -> dict[str, str]:
        """Signed in through the stack's own Cognito endpoint, as the web app does."""
        from serverless_openclaw.local.cognito import sign_in

        return sign_in(
            self.stack.idp(), str(self.stack.info["user_pool_client_id"]), self.email, self.password
        )

    def token(self) -> str:
        return self.tokens()["IdToken"]

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.stack.url,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )

    def ws(self) -> WsClient:
        return WsClient(f"{self.stack.ws_url}?token={self.token()}")

    def settings(self, **changes: object) -> dict[str, object]:
        with self.http() as client:
            response = client.put("/api/settings", json=changes)
            response.raise_for_status()
            return dict(response.json())

    def agent(self) -> dict[str, object]:
        with self.http() as client:
            return dict(client.get("/api/agent").json())

    def pair_telegram(self, chat_id: int) -> None:
        """Link a chat of the fake Telegram to this user, as a person would: code from the
        web app, `/pair CODE` sent to the bot."""
        with self.http() as client:
            code = client.post("/api/telegram/pairing-code").json()["code"]
        base = str(self.stack.info["telegram_api_base"])
        httpx.post(f"{base}/_fake/updates", json={"chatId": chat_id, "text": f"/pair {code}"})
        httpx.post(f"{base}/_fake/deliver", timeout=60).raise_for_status()

    def telegram_texts(self, chat_id: int) -> list[str]:
        base = str(self.stack.info["telegram_api_base"])
        messages = httpx.get(f"{base}/_fake/messages", params={"chatId": chat_id}).json()
        return [str(m["text"]) for m in messages]

    def messages(self, conversation: str = "main") -> list[dict[str, object]]:
        with self.http() as client:
            response = client.get(f"/api/conversations/{conversation}/messages?limit=100")
            if response.status_code == 404:
                return []
            response.raise_for_status()
            return list(response.json()["items"])


class WsClient:
    """A browser stand-in: one WebSocket, every frame it receives kept in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[dict[str, object]] = []
        self._socket: object = None
        self._reader: object = None
        self._changed: object = None
        self.closed = False

    async def __aenter__(self) -> WsClient:
        import asyncio

        import websockets

        self._changed = asyncio.Event()
        self._socket = await websockets.connect(self.url, open_timeout=30)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import json as _json

        import websockets

        try:
            async for raw in self._socket:  # type: ignore[attr-defined]
                self.frames.append(_json.loads(raw))
                self._changed.set()  # type: ignore[attr-defined]
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()  # type: ignore[attr-defined]

    async def send(self, frame: dict[str, object]) -> None:
        import json as _json

        await self._socket.send(_json.dumps(frame))  # type: ignore[attr-defined]

    async def wait_for(
        self, predicate: object, timeout: float = 120, *, after: int = 0
    ) -> dict[str, object]:
        """The first frame (from index `after`) for which predicate(frame) is true."""
        import asyncio
        import contextlib

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for frame in self.frames[after:]:
                if predicate(frame):  # type: ignore[operator]
                    return frame
            if self.closed:
                raise AssertionError(f"socket closed; frames: {self.frames[-5:]}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no matching frame in {timeout} s; last: {self.frames[-5:]}")
            self._changed.clear()  # type: ignore[attr-defined]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)  # type: ignore[attr-defined]

    async def reply_to(self, message_id: str, timeout: float = 180) -> dict[str, object]:
        return await self.wait_for(
            lambda f: f.get("type") == "stream_end" and f.get("id") == message_id, timeout
        )

    def chunks(self, message_id: str) -> list[str]:
        return [
            str(f["text"])
            for f in self.frames
            if f.get("type") == "stream_chunk" and f.get("id") == message_id
        ]

    async def close(self) -> None:
        import contextlib

        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()  # type: ignore[attr-defined]
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader  # type: ignore[misc]

    async def __aexit__(self, *_: object) -> None:
        await self.close()


class DevStackHandle:
    """`serverless-openclaw dev` in a child process, as a person would run it."""

    def __init__(
        self, state_dir: Path, env: dict[str, str] | None = None, *, backend: str | None = None
    ) -> None:
        self.state_dir = state_dir
        self.port = free_port_pair()
        self.moto_port = self.port + 1  # the aws backend's moto: the next port
        self.env = {**os.environ, **DEV_TEST_ENV, **(env or {})}
        self.backend = backend or (env or {}).get("SOC_DEV_BACKEND") or TEST_BACKEND
        for key in (
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "SOC_MODEL_API_KEY",
            "SOC_MODEL_PROVIDER",
            "AWS_ENDPOINT_URL",
            "SOC_PREFIX",
            "SOC_STATE_BUCKET",
        ):
            self.env.pop(key, None)
        self.env["SOC_DEV_BACKEND"] = self.backend
        self.env.pop("SOC_DEV_MOTO_PORT", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, object] = {}
        self.users: list[TestUser] = []
        self.starts = 0
        self._ports: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log(self) -> Path:
        return self.state_dir / f"dev-{self.starts}.log"

    def start(self, timeout: float = 120) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "dev.json").unlink(missing_ok=True)
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "serverless_openclaw",
                    "dev",
                    "--port",
                    str(self.port),
                    "--state-dir",
                    str(self.state_dir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
                # A process group of its own, as a terminal gives a command: `kill_tree()`
                # kills it the way a person (or an out-of-memory killer) would.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dev stack exited:\n{self.log.read_text()[-3000:]}")
            info = self.state_dir / "dev.json"
            if info.exists():
                try:
                    if httpx.get(f"{self.url}/config.json", timeout=2).status_code == 200:
                        import json as _json

                        self.info = _json.loads(info.read_text())
                        return
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dev stack not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 120) -> None:
        if self.proc is None:
            return
        import signal as _signal

        self.proc.send_signal(_signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def process_tree(self) -> list[int]:
        """The dev command and every process under it (agents, their OpenClaw gateways)."""
        import psutil

        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]

    def kill_tree(self) -> None:
        """SIGKILL to the dev command's process group (what `kill -9 -PGID` does): agents run
        in sessions of their own, so only dying with the stack takes them along."""
        import signal as _signal

        assert self.proc is not None
        os.killpg(self.proc.pid, _signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def idp(self):  # type: ignore[no-untyped-def]
        """A Cognito client of the stack's sign-in endpoint (the local identity provider, or
        moto's Cognito on the aws backend)."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        return boto3.client(
            "cognito-idp",
            endpoint_url=str(self.info["cognito_endpoint"]),
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )

    def ports(self):  # type: ignore[no-untyped-def]
        """The embedded backend's ports, opened beside the running stack (SQLite allows it):
        what a test reads or injects there, the stack sees."""
        assert self.backend == "embedded"
        if self._ports is None:
            from serverless_openclaw.adapters.embedded import EmbeddedPorts

            self._ports = EmbeddedPorts(self.state_dir)
        return self._ports

    def identity(self):  # type: ignore[no-untyped-def]
        """The embedded backend's user directory, opened beside the running stack."""
        from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity

        assert self.backend == "embedded"
        return EmbeddedIdentity(self.state_dir / "state.db")

    def aws(self, service: str):  # type: ignore[no-untyped-def]
        """A boto3 client of the aws backend's moto (the embedded backend has none)."""
        import boto3

        assert self.backend == "aws", "this test reads moto: run it on a stack with backend aws"
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_user(self, *, idle_minutes: int | None = None, email: str | None = None) -> TestUser:
        from serverless_openclaw.local.cognito import add_user, generate_password

        email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
        password = generate_password()
        if self.backend == "embedded":
            identity = self.identity()
            try:
                identity.add(email, temporary_password=password)
                identity.set_password(email, password)  # as if they had chosen it
                user_id = str(identity.get(email).sub)
            finally:
                identity.close()
        else:
            moto = self.aws("cognito-idp")
            user_id = add_user(moto, str(self.info["user_pool_id"]), email, password)
        user = TestUser(email, password, user_id, self)
        self.users.append(user)
        if idle_minutes is not None:
            user.settings(idleTimeoutMinutes=idle_minutes)
        return user

    def offline_model(self) -> OfflineModel:
        return OfflineModel(str(self.info["offline_model_url"]))

    def task_log(self, user: TestUser) -> str:
        """Everything the user's agent processes wrote (for failure messages)."""
        logs = sorted((self.state_dir / "tasks").glob("*.log"))
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in logs[-3:])

    def task_row(self, user: TestUser) -> dict[str, object]:
        return task_row(self, user)

    def agent_work_dir(self, user: TestUser) -> Path | None:
        return agent_work_dir(self, user)

    def agent_process(self, user: TestUser, timeout: float = 120) -> dict[str, object]:
        return agent_process(self, user, timeout)

    def gateway_admin(self, user: TestUser):  # type: ignore[no-untyped-def]
        """An operator client with admin scope on the user's running OpenClaw gateway (for
        tests that create scheduled jobs with cron.add). The token never leaves the agent
        task; a test on the same machine reads it from the gateway process's environment."""
        from serverless_openclaw.agent.openclaw.client import GatewayClient

        info = self.agent_process(user)
        status = httpx.get(f"http://127.0.0.1:{info['healthPort']}/status", timeout=10).json()
        environ = Path(f"/proc/{status['gatewayPid']}/environ").read_bytes().split(b"\0")
        token = next(
            v.split(b"=", 1)[1].decode()
            for v in environ
            if v.startswith(b"OPENCLAW_GATEWAY_TOKEN=")
        )
        return GatewayClient(
            f"ws://127.0.0.1:{info['gatewayPort']}",
            token,
            scopes=("operator.read", "operator.write", "operator.admin"),
        )

    def stop_agents(self) -> None:
        for user in self.users:
            try:
                with user.http() as client:
                    client.post("/api/agent/stop")
            except httpx.HTTPError:
                pass


@pytest.fixture(scope="session")
def dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime
) -> Iterator[DevStackHandle]:  # type: ignore[no-untyped-def]
    """One dev stack for the e2e, browser and fault tests that do not restart it."""
    stack = DevStackHandle(tmp_path_factory.mktemp("dev-stack") / "state")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def aws_dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime
) -> Iterator[DevStackHandle]:  # type: ignore[no-untyped-def]
    """A dev stack on the aws backend, for tests that read moto (S3 objects, SQS queues)
    whatever backend the shared one runs."""
    stack = DevStackHandle(tmp_path_factory.mktemp("aws-dev-stack") / "state", backend="aws")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def fresh_dev_stack(tmp_path: Path, openclaw_runtime) -> Iterator[DevStackHandle]:  # type: ignore[no-untyped-def]
    """A dev stack of this test's own (tests that restart or break it)."""
    stack = DevStackHandle(tmp_path / "state")
    stack.start()
    yield stack
    stack.stop()


# --- figures measured by tests (printed in the summary; targets live in bench/) -------------
_SUMMARY: dict[str, list[str]] = {}
"""Section -> lines for the end of the run. Tests add lines through their report's
`user_properties`, which pytest-xdist carries from its workers to the process that prints."""
FIGURES_SECTION = "figures measured by tests"


@pytest.fixture
def summary_line(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """`summary_line(section, text)`: a line printed under `section` at the end of the run."""

    def add(section: str, text: str) -> None:
        request.node.user_properties.append(("summary", [section, text]))

    return add


@pytest.fixture
def figure(request: pytest.FixtureRequest, summary_line):  # type: ignore[no-untyped-def]
    """`figure("name", value)`: a measurement shown at the end of the run, never asserted."""

    def record(name: str, value: float) -> None:
        summary_line(FIGURES_SECTION, f"{name} = {value:.3f}   ({request.node.nodeid})")

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, value in report.user_properties:
        if key == "summary":
            section, text = value
            _SUMMARY.setdefault(str(section), []).append(str(text))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for section in sorted(_SUMMARY, key=lambda name: name == FIGURES_SECTION):
        terminalreporter.section(section)
        for text in _SUMMARY[section]:
            terminalreporter.write_line(text)


# --- a user's agent task on the dev stack (its row, process and work dir) -------------------


def task_row(stack: DevStackHandle, user: TestUser) -> dict[str, object]:
    """The user's task-state row, as DynamoDB would hold it (camelCase, times as ISO text)."""
    if stack.backend == "embedded":
        import dataclasses
        from datetime import datetime

        state = stack.ports().task_state().get(user.user_id)
        row: dict[str, object] = {}
        for name, value in dataclasses.asdict(state).items():
            if value is None or name == "user_id":
                continue
            head, *rest = name.split("_")
            key = head + "".join(part.title() for part in rest)
            row[key] = value.isoformat() if isinstance(value, datetime) else value
        return row
    from boto3.dynamodb.types import TypeDeserializer

    item = (
        stack.aws("dynamodb")
        .get_item(
            TableName=f"{stack.info['prefix']}-task-state",
            Key={"userId": {"S": user.user_id}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}


def agent_work_dir(stack: DevStackHandle, user: TestUser) -> Path | None:
    arn = task_row(stack, user).get("taskArn")
    if not arn:
        return None
    return stack.state_dir / "tasks" / str(arn).rsplit("/", 1)[-1]


def agent_process(stack: DevStackHandle, user: TestUser, timeout: float = 120) -> dict[str, object]:
    """agent.json of the user's running agent: pid, healthPort, gatewayPort, launchId."""
    import json as _json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        work = agent_work_dir(stack, user)
        if work is not None and (work / "agent.json").exists():
            return dict(_json.loads((work / "agent.json").read_text()))
        time.sleep(0.2)
    raise AssertionError("the agent did not start")
