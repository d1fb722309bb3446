"""`serverless-openclaw dev` in a child process, started as a person starts it and driven
from outside, for the tests and the benchmarks alike.

A child process, not a `DevStack` in this interpreter: the stack's event loop, its moto and
its Lambda handlers never share an interpreter (or a GIL) with the code that measures or
breaks them, and a test can SIGKILL the whole stack as a terminal or an out-of-memory killer
would. What a test reads or injects beside it goes through what an operator on the same
machine has: the embedded backend's database (SQLite allows a second opener), or the aws
backend's moto as the administrator the stack made (`dev.json`, IAM enforced).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from serverless_openclaw.loopback import free_port

from .agent import AgentProcess
from .diagnostics import person_digest, stack_log_digest, task_log_digest
from .model import OfflineModel
from .people import Person

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

    from serverless_openclaw.adapters.embedded import EmbeddedPorts
    from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity
    from serverless_openclaw.agent.openclaw.client import GatewayClient

ROOT = Path(__file__).resolve().parents[1]
"""The repository: the stack's working directory, and on its PYTHONPATH (so that an agent
command of `bench/` imports)."""

BACKEND_ENV = "SOC_TEST_BACKEND"
"""Chooses the backend of a stack started without one: the product's default (embedded)
unless set; CI runs some suites with SOC_TEST_BACKEND=aws (boto3 against moto)."""

FAST_CLOCKS: Mapping[str, str] = {
    # Fast control-plane clocks so that idle-outs and wake-ups fit in a test run.
    "SOC_DEV_WATCHDOG_INTERVAL_SECONDS": "2",
    "SOC_MIN_UPTIME_SECONDS": "0",
    "SOC_DEV_AGENT_SYNC_INTERVAL_SECONDS": "300",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
"""The environment every stack gets unless the caller passes other `defaults` (bench does)."""

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
    "SOC_DEV_MOTO_PORT",
    "SOC_DEV_AGENT_ENV",
    "SOC_DEV_TELEGRAM_BOT_TOKEN",
)
"""What this machine's environment must not hand the stack: a real model key (the stack then
runs the offline model), another moto, another stack's settings."""


def free_port_pair() -> int:
    """A free port whose next one is free too (the aws backend's moto takes port + 1), both
    below the ephemeral range: the stack binds them only when it starts (or restarts)."""
    return free_port(count=2)


def new_id() -> str:
    """A message id, as the web app makes one per message."""
    return uuid.uuid4().hex


class DevStackProcess:
    """The whole local product in a child process of its own session.

    `env` goes over `defaults` (FAST_CLOCKS unless given) over this machine's environment.
    `backend` is "embedded" or "aws" (else `env`'s SOC_DEV_BACKEND, else SOC_TEST_BACKEND).
    For benchmarks: `agent_command` runs the stack through `python -m bench.stack_runner`
    with another agent task command (the same DevStack as the CLI), `agent_env` is added to
    every agent task's environment, and `gateway_token` is the token every agent's OpenClaw
    gateway accepts (SOC_GATEWAY_TOKEN, as SSM hands it over on AWS; otherwise each agent
    makes one that never leaves it)."""

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        backend: str | None = None,
        defaults: Mapping[str, str] = FAST_CLOCKS,
        agent_command: list[str] | None = None,
        agent_env: Mapping[str, str] | None = None,
        gateway_token: str | None = None,
    ) -> None:
        env = dict(env or {})
        self.state_dir = state_dir
        self.port = free_port_pair()
        self.moto_port = self.port + 1
        """The aws backend's moto (the embedded backend has none)."""
        self.backend = (
            backend or env.get("SOC_DEV_BACKEND") or os.environ.get(BACKEND_ENV) or "embedded"
        )
        self.agent_command = agent_command
        self.gateway_token = gateway_token
        self.env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        self.env.update(defaults)
        self.env.update(env)
        self.env["SOC_DEV_BACKEND"] = self.backend
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p
        )
        if agent_env or gateway_token:
            given = json.loads(self.env.get("SOC_DEV_AGENT_ENV", "{}"))
            token = {"SOC_GATEWAY_TOKEN": gateway_token} if gateway_token else {}
            self.env["SOC_DEV_AGENT_ENV"] = json.dumps({**given, **token, **(agent_env or {})})
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        """dev.json of the running stack: its URLs, pool, prefix, moto_admin..."""
        self.users: list[Person] = []
        self.starts = 0
        self._ports: EmbeddedPorts | None = None

    # --- where -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log(self) -> Path:
        """What the current (or last) start printed."""
        return self.state_dir / f"dev-{self.starts}.log"

    @property
    def tasks_dir(self) -> Path:
        """The agent tasks' work dirs (and their logs beside them)."""
        return self.state_dir / "tasks"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # --- start, stop, break ----------------------------------------------------------------
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
        """Start it and wait until it serves (dev.json written, /config.json answered)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        info = self.state_dir / "dev.json"
        info.unlink(missing_ok=True)
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
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
            if info.exists():
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/config.json", timeout=2).status_code == 200:
                        self.info = json.loads(info.read_text())
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"dev stack not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 120) -> list[int]:
        """Ctrl+C, as a person stops it (agents get to back up), SIGKILL after `timeout`;
        then SIGKILL to whatever still works in the state dir. Returns those pids."""
        if self.proc is None:
            return []
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        return self.kill_leftovers()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill_tree(self) -> None:
        """SIGKILL to the dev command's process group (what `kill -9 -PGID` does): agents run
        in sessions of their own, so only dying with the stack takes them along."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def process_tree(self) -> list[int]:
        """The dev command and every process under it (agents, their OpenClaw gateways)."""
        import psutil

        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]

    def kill_leftovers(self) -> list[int]:
        """SIGKILL whatever still works inside the state dir (an OpenClaw gateway runs in a
        session of its own): nothing of a stopped stack may outlive it into the next test
        or benchmark. Returns the pids killed."""
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

    # --- beside it: what an operator on this machine can open ------------------------------
    def idp(self) -> CognitoIdentityProviderClient:
        """A Cognito client of the stack's sign-in endpoint (the local identity provider, or
        moto's Cognito on the aws backend), unsigned as the web app's calls are."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        return boto3.client(
            "cognito-idp",
            endpoint_url=str(self.info["cognito_endpoint"]),
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )

    def aws(self, service: str) -> Any:
        """A boto3 client of the aws backend's moto, as the administrator the stack made
        (IAM is enforced there: any other key is refused)."""
        import boto3

        assert self.backend == "aws", "this reads moto: run it on a stack with backend aws"
        admin = self.info.get("moto_admin") or {}
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            region_name="us-east-1",
            aws_access_key_id=admin.get("access_key_id", "local"),
            aws_secret_access_key=admin.get("secret_access_key", "local"),
        )

    def ports(self) -> EmbeddedPorts:
        """The embedded backend's ports, opened beside the running stack (SQLite allows it):
        what a test reads or injects there, the stack sees."""
        assert self.backend == "embedded"
        if self._ports is None:
            from serverless_openclaw.adapters.embedded import EmbeddedPorts

            self._ports = EmbeddedPorts(self.state_dir)
        return self._ports

    def identity(self) -> EmbeddedIdentity:
        """The embedded backend's user directory, opened beside the running stack."""
        from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity

        assert self.backend == "embedded"
        return EmbeddedIdentity(self.state_dir / "state.db")

    def offline_model(self) -> OfflineModel:
        """The offline model the stack's agents use (shared by all of them)."""
        return OfflineModel(str(self.info["offline_model_url"]))

    # --- people ----------------------------------------------------------------------------
    def create_user(
        self, *, email: str | None = None, idle_minutes: int | None = None, **settings: Any
    ) -> Person:
        """A person with a permanent password, made as `serverless-openclaw user add` makes
        one (the account; on the aws backend also their role and inbox), then `settings`
        (`idle_minutes` is idleTimeoutMinutes) changed as they would in the web app."""
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
            from serverless_openclaw.app.people import complete_person
            from serverless_openclaw.local.wiring import wire_local_operator

            user_id = add_user(
                self.aws("cognito-idp"), str(self.info["user_pool_id"]), email, password
            )
            # What `user add` makes besides the account: the person's role and inbox.
            operator = wire_local_operator(self.state_dir)
            complete_person(
                operator.services.inbox, operator.users, operator.access, operator.users.get(email)
            )
        user = Person(email, password, user_id, self)
        self.users.append(user)
        if idle_minutes is not None:
            settings["idleTimeoutMinutes"] = idle_minutes
        if settings:
            user.settings(**settings)
        return user

    def stop_agents(self, *, made_since: float | None = None) -> None:
        """Ask the agents of every person (or of those made since `made_since`, a
        time.monotonic() value) to stop, as they would in the web app; best effort: the
        stack may be gone, or the person removed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for user in self.users:
            if made_since is not None and user.created_at < made_since:
                continue
            with (
                contextlib.suppress(httpx.HTTPError, BotoCoreError, ClientError),
                user.http() as client,
            ):
                client.post("/api/agent/stop")

    # --- a person's agent task (its row, work dir, process) --------------------------------
    def task_row(self, user: Person) -> dict[str, Any]:
        """The person's task-state row, as DynamoDB would hold it (camelCase, times as ISO
        text), from either backend."""
        if self.backend == "embedded":
            import dataclasses
            from datetime import datetime

            state = self.ports().task_state().get(user.user_id)
            row: dict[str, Any] = {}
            for name, value in dataclasses.asdict(state).items():
                if value is None or name == "user_id":
                    continue
                head, *rest = name.split("_")
                key = head + "".join(part.title() for part in rest)
                row[key] = value.isoformat() if isinstance(value, datetime) else value
            return row
        from boto3.dynamodb.types import TypeDeserializer

        item = (
            self.aws("dynamodb")
            .get_item(
                TableName=f"{self.info['prefix']}-task-state",
                Key={"userId": {"S": user.user_id}},
                ConsistentRead=True,
            )
            .get("Item", {})
        )
        return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}

    def agent_work_dir(self, user: Person) -> Path | None:
        """The work dir of the person's current (or last) agent task, if they have one."""
        arn = self.task_row(user).get("taskArn")
        if not arn:
            return None
        return self.tasks_dir / str(arn).rsplit("/", 1)[-1]

    def agent_process(self, user: Person, timeout: float = 120) -> AgentProcess:
        """agent.json of the person's running agent (pid, healthPort, gatewayPort,
        launchId), once it is there; `await person.agent_process()` waits without blocking."""
        deadline = time.monotonic() + timeout
        while True:
            work = self.agent_work_dir(user)
            agent = AgentProcess.read(work) if work is not None else None
            if agent is not None:
                return agent
            if time.monotonic() > deadline:
                raise TimeoutError(f"the agent of {user.email} did not start")
            time.sleep(0.2)

    def _task_logs(self) -> list[Path]:
        """Every agent task's log, oldest first (task ids are random: by time, not name)."""
        return sorted(self.tasks_dir.glob("*.log"), key=lambda p: p.stat().st_mtime)

    @staticmethod
    def _log_user(path: Path) -> str | None:
        """The person (first 12 characters of the id) a task's log names in its first lines."""
        with path.open("rb") as log:
            head = log.read(8192).decode(errors="replace")
        marker = '"user": "'
        at = head.find(marker)
        return head[at + len(marker) : at + len(marker) + 12] if at >= 0 else None

    def task_logs_of(self, user: Person) -> list[Path]:
        """The logs of the person's agent tasks, oldest first."""
        return [p for p in self._task_logs() if self._log_user(p) == user.user_id[:12]]

    def task_log(self, user: Person) -> str:
        """The person's task row and their agent tasks' lifecycle (for failure messages)."""
        return self._person_digest(user, lines=30)

    def _person_digest(self, user: Person, lines: int = 12) -> str:
        try:
            row: dict[str, Any] | str = self.task_row(user)
        except (BotoCoreError, ClientError, sqlite3.Error, OSError) as exc:  # the stack is gone
            row = f"task row unreadable ({type(exc).__name__}: {exc})"
        return person_digest(user.email, user.user_id, row, self.task_logs_of(user)[-3:], lines)

    def diagnostics(self, people: int = 3) -> str:
        """What a failed test needs to be understood from CI output alone: the stack log's
        warnings, errors and watchdog actions, task logs that name nobody (a task that died
        before its first line), then the last people's task rows and agent tasks."""
        parts = [stack_log_digest(self.log)]
        nameless = [p for p in self._task_logs() if self._log_user(p) is None]
        if nameless:
            parts.append("--- task logs that name nobody")
            parts.extend(task_log_digest(p) for p in nameless[-3:])
        parts.extend(self._person_digest(user) for user in self.users[-people:])
        return "\n".join(parts)

    def gateway_admin(self, user: Person) -> GatewayClient:
        """An operator client with admin scope on the person's running OpenClaw gateway (for
        tests that create scheduled jobs with cron.add). The token never leaves the agent
        task; a test on the same machine reads it from the gateway process's environment."""
        from serverless_openclaw.agent.openclaw.client import GatewayClient

        agent = self.agent_process(user)
        status = agent.fetch_status()
        environ = Path(f"/proc/{status['gatewayPid']}/environ").read_bytes().split(b"\0")
        token = next(
            v.split(b"=", 1)[1].decode()
            for v in environ
            if v.startswith(b"OPENCLAW_GATEWAY_TOKEN=")
        )
        return GatewayClient(
            f"ws://127.0.0.1:{agent.gateway_port}",
            token,
            scopes=("operator.read", "operator.write", "operator.admin"),
        )
