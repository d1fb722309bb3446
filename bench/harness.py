"""The local stack as a benchmark sees it: started as a person would start it, driven only
through its public WebSocket and HTTP APIs, observed through the agent's own /status.

`DevStackProcess` runs `python -m serverless_openclaw dev` (or, for the load suite's agent
double, `python -m bench.stack_runner`, which is the same DevStack with another task
command) in a child process, so that the stack's event loop, its embedded moto and its Lambda
handlers never share an interpreter (or a GIL) with the code that measures them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from serverless_openclaw.local.serve import free_port

ROOT = Path(__file__).resolve().parents[1]

BENCH_ENV: Mapping[str, str] = {
    # The per-user message quota (20/min) is a product limit, not a speed: a benchmark user
    # sends faster than a person would, so it is lifted for every suite.
    "SOC_MESSAGES_PER_MINUTE": "1000000",
    "SOC_DEV_WATCHDOG_INTERVAL_SECONDS": "5",
    "SOC_MIN_UPTIME_SECONDS": "0",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
_CLEARED = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "SOC_MODEL_API_KEY",
    "SOC_MODEL_PROVIDER",
    "SOC_MODEL_BASE_URL",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "SOC_PREFIX",
    "SOC_STATE_BUCKET",
    "SOC_DEV_AGENT_ENV",
    "SOC_DEV_TELEGRAM_BOT_TOKEN",
)


def new_id() -> str:
    return uuid.uuid4().hex


# --- the stack ------------------------------------------------------------------------------
class DevStackProcess:
    """The whole local product in a child process; `gateway_token` is what every agent task
    of this stack uses (SOC_GATEWAY_TOKEN, as SSM would hand it over on AWS), so that the
    relay suite can talk to an agent's own OpenClaw gateway directly."""

    def __init__(
        self,
        state_dir: Path,
        *,
        agent_command: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        agent_env: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.agent_command = agent_command
        self.port = free_port()
        self.moto_port = free_port()
        self.gateway_token = secrets.token_urlsafe(32)
        self.env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        self.env.update(BENCH_ENV)
        self.env.update(env or {})
        self.env["SOC_DEV_MOTO_PORT"] = str(self.moto_port)
        # The bench reads and drives moto directly: the dev stack's aws backend.
        self.env["SOC_DEV_BACKEND"] = "aws"
        # Agent tasks run in their own work dirs; the agent double lives in this package.
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p
        )
        self.env["SOC_DEV_AGENT_ENV"] = json.dumps(
            {"SOC_GATEWAY_TOKEN": self.gateway_token, **(agent_env or {})}
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.users: list[BenchUser] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log(self) -> Path:
        return self.state_dir / "dev.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        common = ["--port", str(self.port), "--state-dir", str(self.state_dir)]
        if self.agent_command is None:
            return [sys.executable, "-m", "serverless_openclaw", "dev", *common]
        return [
            sys.executable,
            "-m",
            "bench.stack_runner",
            *common,
            "--agent-command",
            json.dumps(self.agent_command),
        ]

    def start(self, timeout: float = 180) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "dev.json").unlink(missing_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        info = self.state_dir / "dev.json"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dev stack exited:\n{self.log.read_text()[-3000:]}")
            if info.exists():
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/config.json", timeout=2).status_code == 200:
                        self.info = json.loads(info.read_text())
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"dev stack not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 120) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.kill_leftovers()

    def kill_leftovers(self) -> list[int]:
        """SIGKILL whatever still works inside this stack's state dir (an OpenClaw gateway
        runs in a session of its own; an older ECS emulator did not reach it)."""
        root = str(self.state_dir.resolve())
        killed: list[int] = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd == root or cwd.startswith(root + os.sep):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed.append(int(entry.name))
        return killed

    def __enter__(self) -> DevStackProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def aws(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_user(self, **settings: Any) -> BenchUser:
        from serverless_openclaw.local.cognito import add_user, generate_password

        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        password = generate_password()
        user_id = add_user(self.aws("cognito-idp"), str(self.info["user_pool_id"]), email, password)
        user = BenchUser(email, password, user_id, self)
        self.users.append(user)
        if settings:
            user.settings(**settings)
        return user

    @property
    def offline_model_url(self) -> str:
        return str(self.info["offline_model_url"])

    def script_model(self, rules: list[dict[str, Any]], **defaults: Any) -> None:
        """Set the offline model's replies (shared by every agent of this stack)."""
        response = httpx.post(
            f"{self.offline_model_url}/_script", json={"rules": rules, **defaults}, timeout=10
        )
        response.raise_for_status()

    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"


# --- a user ---------------------------------------------------------------------------------
@dataclass
class BenchUser:
    email: str
    password: str
    user_id: str
    stack: DevStackProcess
    _token: str | None = field(default=None, repr=False)
    _token_at: float = 0.0

    def token(self) -> str:
        """An ID token, reused for 30 minutes (Cognito's last an hour)."""
        if self._token is None or time.monotonic() - self._token_at > 1800:
            from serverless_openclaw.local.cognito import sign_in

            self._token = sign_in(
                self.stack.aws("cognito-idp"),
                str(self.stack.info["user_pool_client_id"]),
                self.email,
                self.password,
            )["IdToken"]
            self._token_at = time.monotonic()
        return self._token

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.stack.url,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
        )

    def ws(self) -> WsClient:
        return WsClient(f"{self.stack.ws_url}?token={self.token()}")

    def settings(self, **changes: Any) -> dict[str, Any]:
        with self.http() as client:
            response = client.put("/api/settings", json=changes)
            response.raise_for_status()
            return dict(response.json())

    def agent(self) -> dict[str, Any]:
        with self.http() as client:
            response = client.get("/api/agent")
            response.raise_for_status()
            return dict(response.json())

    def stop_agent(self) -> None:
        with self.http() as client:
            client.post("/api/agent/stop").raise_for_status()

    def messages(self, conversation: str = "main") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        with self.http() as client:
            while True:
                query = f"?limit=100{'&cursor=' + cursor if cursor else ''}"
                response = client.get(f"/api/conversations/{conversation}/messages{query}")
                if response.status_code == 404:
                    return items
                response.raise_for_status()
                page = response.json()
                items.extend(page["items"])
                cursor = page.get("nextCursor")
                if not cursor:
                    return items

    def task_row(self) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        item = (
            self.stack.aws("dynamodb")
            .get_item(
                TableName=f"{self.stack.info['prefix']}-task-state",
                Key={"userId": {"S": self.user_id}},
                ConsistentRead=True,
            )
            .get("Item", {})
        )
        return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}

    def work_dir(self) -> Path | None:
        arn = self.task_row().get("taskArn")
        if not arn:
            return None
        return self.stack.tasks_dir() / str(arn).rsplit("/", 1)[-1]

    async def wait_state(self, state: str, timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            agent = await asyncio.to_thread(self.agent)
            if agent.get("state") == state:
                return agent
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent of {self.email} is {agent}, not {state}")
            await asyncio.sleep(0.5)

    async def agent_process(self, timeout: float = 240) -> AgentProcess:
        """The running agent task of this user (waits for its agent.json)."""
        deadline = time.monotonic() + timeout
        while True:
            work = await asyncio.to_thread(self.work_dir)
            if work is not None and (work / "agent.json").exists():
                with contextlib.suppress(json.JSONDecodeError):
                    data = json.loads((work / "agent.json").read_text())
                    return AgentProcess(work, data)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no agent process for {self.email}")
            await asyncio.sleep(0.1)


# --- an agent task --------------------------------------------------------------------------
@dataclass(frozen=True)
class AgentProcess:
    """What an agent task wrote about itself in its work dir (agent.json)."""

    work_dir: Path
    data: dict[str, Any]

    @property
    def pid(self) -> int:
        return int(self.data["pid"])

    @property
    def gateway_port(self) -> int:
        return int(self.data["gatewayPort"])

    @property
    def health_port(self) -> int:
        return int(self.data["healthPort"])

    @property
    def log(self) -> Path:
        return self.work_dir.parent / f"{self.work_dir.name}.log"

    @property
    def openclaw_state_dir(self) -> Path:
        """The user's OpenClaw state dir (it outlives the task: the same path every start)."""
        state = self.data.get("stateDir")
        return Path(state) if state else self.work_dir / "openclaw-state"

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{self.health_port}/status")
            response.raise_for_status()
            return dict(response.json())

    async def wait_running(self, timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                status = await self.status()
                if status.get("running"):
                    return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {self.work_dir.name} not running")
            await asyncio.sleep(0.1)

    def running_logged_at(self) -> float | None:
        """Wall-clock time (epoch s) of the supervisor's "agent running" log line, which
        anchors the /status start-up marks (seconds since the supervisor started)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return None
        for line in lines:
            if '"agent running:' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError):
                return datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
        return None

    def process_started_at(self) -> float | None:
        """Wall-clock time the task's process was created (/proc, 10 ms resolution)."""
        return process_start_wall(self.pid)


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_start_wall(pid: int) -> float | None:
    """Creation time of `pid` as epoch seconds, from /proc/<pid>/stat (ticks since boot)
    converted through CLOCK_BOOTTIME, which is exact to a tick — psutil's create_time goes
    through /proc/stat's whole-second boot time instead."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    started_since_boot = int(fields[19]) / _CLK_TCK
    now_wall = time.time()
    now_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    return now_wall - (now_boot - started_since_boot)


# --- a browser stand-in ---------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    at: float
    """time.monotonic() when it arrived."""
    data: dict[str, Any]


class WsClient:
    """One WebSocket to the API Gateway emulator; every frame kept with its arrival time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[Frame] = []
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.closed = False

    async def __aenter__(self) -> WsClient:
        self._socket = await websockets.connect(self.url, open_timeout=60, max_size=None)
        self._reader = asyncio.create_task(self._read(), name="bench-ws-reader")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                self.frames.append(Frame(time.monotonic(), json.loads(raw)))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def send(self, frame: dict[str, Any]) -> float:
        """Send a frame; returns time.monotonic() just before it left."""
        sent = time.monotonic()
        await self._socket.send(json.dumps(frame))
        return sent

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120, *, after: int = 0
    ) -> Frame:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = after
        while True:
            frames = self.frames
            for index in range(checked, len(frames)):
                if predicate(frames[index].data):
                    return frames[index]
            checked = len(frames)
            if self.closed:
                raise ConnectionError(f"socket closed; last frames: {self._tail()}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame in {timeout} s; last: {self._tail()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _tail(self) -> list[dict[str, Any]]:
        return [f.data for f in self.frames[-5:]]

    async def ack(self, message_id: str, timeout: float = 120, after: int = 0) -> Frame:
        return await self.wait_for(
            lambda f: f.get("id") == message_id and f.get("type") in ("ack", "error"),
            timeout,
            after=after,
        )

    async def first_chunk(self, message_id: str, timeout: float = 240, after: int = 0) -> Frame:
        return await self.wait_for(
            lambda f: f.get("type") == "stream_chunk" and f.get("id") == message_id,
            timeout,
            after=after,
        )

    async def reply(self, message_id: str, timeout: float = 240, after: int = 0) -> Frame:
        return await self.wait_for(
            lambda f: f.get("type") == "stream_end" and f.get("id") == message_id,
            timeout,
            after=after,
        )

    def reply_frames(self, message_id: str) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f.data.get("id") == message_id
            and f.data.get("type") in ("stream_start", "stream_chunk", "stream_end")
        ]

    async def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader


# --- the machine ----------------------------------------------------------------------------
def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    import platform

    import psutil

    from serverless_openclaw.core.pins import OPENCLAW_VERSION

    cpu_model = ""
    with contextlib.suppress(OSError):
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu_model = match.group(1).strip() if match else ""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "openclaw": OPENCLAW_VERSION,
        "load_average": [round(x, 2) for x in load_average()],
    }
