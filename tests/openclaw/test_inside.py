"""From the inside: the offline model makes the agent run shell commands through OpenClaw's
exec tool, and nothing secret comes back (issue 14, items 3-4; docs/security.md, "What the agent
can reach").

- `safe` (the default policy), on the real gateway: an exec call is refused and the person
  still gets an answer (in test_gateway_contract.py, on the session's gateway).
- `shell`, on the dev stack started as root (so the agent task starts as root, as in the
  container): OpenClaw runs as `openclaw`, the supervisor as `agent`. `env`, every
  `/proc/*/environ`, the supervisor's files and /proc entries, and a hunt for the container
  credentials (a fake credentials endpoint on loopback stands in for ECS's) give back none of
  the supervisor's secrets. What OpenClaw itself holds is visible by design: its gateway token
  (loopback only) and the key of the model it uses (none for the offline model).

Without root the uid part skips (the agent then refuses the shell and runs `safe`).
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness import DevStackProcess, Person
from serverless_openclaw.agent.openclaw.config import (
    ModelChoice,
    patch_config,
    validate,
    write_config,
)
from serverless_openclaw.agent.privileges import GATEWAY_USER, SUPERVISOR_USER
from serverless_openclaw.core.pins import OPENCLAW_VERSION
from serverless_openclaw.local.offline_model import OFFLINE_LABEL
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.runtime.installer import OpenClawRuntime
from serverless_openclaw.settings import environ_snapshot

pytestmark = [pytest.mark.openclaw, pytest.mark.timeout(1200)]

IS_ROOT = os.geteuid() == 0
NO_UID_SWITCH = "not root: the dev stack cannot start OpenClaw as another user here (CI can)"


def _script_exec(url: str, marker: str, command: str) -> None:
    rule = {
        "match": marker,
        "tool": "exec",
        "tool_arguments": {"command": command},
        "chunk_chars": 4000,
    }
    httpx.post(f"{url}/_script", json={"rules": [rule]}, timeout=5).raise_for_status()


@pytest.mark.parametrize("tools", ["safe", "shell"])
def test_both_policies_are_valid_for_the_pinned_openclaw(
    tools: str, openclaw_runtime: OpenClawRuntime, tmp_path: Path
) -> None:
    config = patch_config(
        None,
        port=18789,
        model=ModelChoice("offline", base_url="http://127.0.0.1:9/v1"),
        tools=tools,  # type: ignore[arg-type]
    )
    write_config(tmp_path / "openclaw.json", config)
    env = {**environ_snapshot(), "HOME": str(tmp_path), "OPENCLAW_GATEWAY_TOKEN": "x" * 32}
    validate(openclaw_runtime, tmp_path, env)  # raises ConfigInvalid otherwise


# --- shell, as root: OpenClaw under its own uid ------------------------------------------------
def _ensure_account(name: str) -> pwd.struct_passwd:
    """The image has both users (container/Dockerfile); a root CI machine gets them here."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip(f"no user {name} and no useradd to create it")
        subprocess.run(
            [
                *("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"),
                *("--shell", "/usr/sbin/nologin", "--user-group", name),
            ],
            check=True,
        )
        return pwd.getpwnam(name)


def _reachable_runtime(runtime: OpenClawRuntime, root: Path) -> Path:
    """A runtime cache the `openclaw` user can read: the test's own install usually sits
    under /root (0700), so link its files (hard links, no copy) into `root`."""
    target = root / "runtime"
    node_dir = runtime.node.parents[1]
    openclaw_dir = runtime.entry.parents[2]
    target.mkdir(mode=0o755)
    for source in (node_dir, openclaw_dir):
        subprocess.run(["cp", "-al", str(source), str(target / source.name)], check=True)
    marker = target / openclaw_dir.name / "installed.json"
    info = json.loads(marker.read_text())
    info["node"] = str(target / node_dir.name / runtime.node.relative_to(node_dir))
    fresh = marker.with_suffix(".new")
    fresh.write_text(json.dumps(info))
    fresh.replace(marker)  # a new file: the original's hard link is left alone
    assert openclaw_dir.name == f"openclaw-{OPENCLAW_VERSION}"
    return target


class FakeCredentials:
    """ECS's credentials endpoint, on loopback: credentials only at the secret path."""

    def __init__(self) -> None:
        self.path = f"/v2/credentials/{uuid.uuid4()}"
        self.token = f"auth-{uuid.uuid4().hex}"
        self.access_key = f"ASIAINSIDE{uuid.uuid4().hex[:10].upper()}"
        self.secret_key = f"secret-{uuid.uuid4().hex}"
        self.hits: list[str] = []

        async def anything(request: Request) -> Response:
            self.hits.append(request.url.path)
            if request.url.path != self.path:
                return JSONResponse({"message": "not found"}, status_code=404)
            return JSONResponse(
                {
                    "AccessKeyId": self.access_key,
                    "SecretAccessKey": self.secret_key,
                    "Token": "session",
                    "Expiration": "2099-01-01T00:00:00Z",
                }
            )

        app = Starlette(routes=[Route("/{rest:path}", anything, methods=["GET"])])
        self.handle = serve_in_thread(app)
        self.base = self.handle.url

    @property
    def full_uri(self) -> str:
        return f"{self.base}{self.path}"


@pytest.fixture(scope="module")
def credentials() -> Iterator[FakeCredentials]:
    fake = FakeCredentials()
    yield fake
    fake.handle.stop()


@pytest.fixture(scope="module")
def shell_stack(
    openclaw_runtime: OpenClawRuntime, credentials: FakeCredentials
) -> Iterator[DevStackProcess]:
    if not IS_ROOT:
        pytest.skip(NO_UID_SWITCH)
    _ensure_account(SUPERVISOR_USER)
    _ensure_account(GATEWAY_USER)
    # Every parent of OpenClaw's dirs must be crossable by `openclaw` (pytest's tmp is 0700).
    root = Path(tempfile.mkdtemp(prefix="soc-inside-", dir="/var/tmp"))
    root.chmod(0o711)
    agent_env = {
        "SOC_AGENT_TOOLS": "shell",
        "ANTHROPIC_API_KEY": f"sk-ant-inside-{uuid.uuid4().hex}",  # not the model in use
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials.full_uri,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": credentials.token,
    }
    stack = DevStackProcess(
        root / "state",
        {
            "SOC_RUNTIME_CACHE": str(_reachable_runtime(openclaw_runtime, root)),
            "SOC_DEV_AGENT_ENV": json.dumps(agent_env),
        },
        # boto3 against moto, as on AWS: the supervisor drops root (on the embedded store,
        # the stack's root-owned SQLite, it would stay root).
        backend="aws",
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _ask(user: Person, text: str, timeout: float = 600) -> str:
    async with user.ws() as ws:
        message = uuid.uuid4().hex
        await ws.send({"action": "send", "id": message, "text": text})
        end = await ws.reply_to(message, timeout=timeout)
    return str(end["text"])


async def _run(stack: DevStackProcess, user: Person, command: str) -> str:
    """What OpenClaw's exec returned for `command` (the offline model reports it verbatim)."""
    marker = f"cmd-{uuid.uuid4().hex[:10]}"
    _script_exec(str(stack.info["offline_model_url"]), marker, command)
    reply = await _ask(user, f"please run {marker}")
    assert reply.startswith(f"{OFFLINE_LABEL} The exec tool said:"), reply[:500]
    return reply


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode(errors="replace").split("=", 1) for p in pairs if b"=" in p)


def _sh(script: str) -> str:
    """A Python script as one shell command (no quoting to get wrong)."""
    encoded = base64.b64encode(textwrap.dedent(script).encode()).decode()
    return f"echo {encoded} | base64 -d | python3 2>&1"


async def test_shell_as_its_own_uid_reaches_no_secret_and_no_credentials(
    shell_stack: DevStackProcess, credentials: FakeCredentials
) -> None:
    user = shell_stack.create_user(idle_minutes=5)
    first = await _ask(user, "hello")  # wakes the agent
    assert first.startswith(OFFLINE_LABEL), first
    info = shell_stack.agent_process(user)
    status = httpx.get(f"http://127.0.0.1:{info['healthPort']}/status", timeout=10).json()
    assert status["uidSeparation"] is True, shell_stack.task_log(user)
    assert status["agentTools"] == "shell"
    supervisor_pid, gateway_pid = int(str(info["pid"])), int(status["gatewayPid"])
    state_dir = Path(str(info["stateDir"]))
    work_dir = shell_stack.agent_work_dir(user)
    assert work_dir is not None

    # What the supervisor holds (read as root, from outside).
    sup_env = _environ(supervisor_pid)
    device_key = (state_dir / "soc" / "device-key.pem").read_text()
    secrets = {
        "telegram token": sup_env["SOC_TELEGRAM_BOT_TOKEN"],
        "anthropic key": sup_env["ANTHROPIC_API_KEY"],
        "credentials path": credentials.path,
        "credentials auth token": credentials.token,
        "access key": credentials.access_key,
        "secret key": credentials.secret_key,
        "device key": device_key.splitlines()[1],
    }
    gateway_env = _environ(gateway_pid)
    gw_user, sup_user = pwd.getpwnam(GATEWAY_USER), pwd.getpwnam(SUPERVISOR_USER)
    assert Path(f"/proc/{gateway_pid}").stat().st_uid == gw_user.pw_uid
    assert os.stat(f"/proc/{supervisor_pid}/status").st_uid == 0, "not dumpable: root's"
    proc_status = Path(f"/proc/{supervisor_pid}/status").read_text()
    uid_line = next(line for line in proc_status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(sup_user.pw_uid)] * 2 + ["0", str(sup_user.pw_uid)]
    assert not [k for k in gateway_env if k.startswith(("SOC_", "TELEGRAM_", "AWS_"))]

    replies = {
        "id and env": await _run(shell_stack, user, "id; env"),
        "every environ": await _run(
            shell_stack,
            user,
            "for f in /proc/[0-9]*/environ; do echo \"== $f\"; tr '\\0' '\\n' < $f; done 2>&1",
        ),
        "supervisor's files": await _run(
            shell_stack,
            user,
            f"cat {state_dir}/soc/device-key.pem; ls -la {state_dir}/soc; "
            f"cat /proc/{supervisor_pid}/environ; ls /proc/{supervisor_pid}/fd; "
            f"cat /proc/{supervisor_pid}/mem; ls {work_dir}; cat {work_dir}/agent.json 2>&1",
        ),
        "credentials hunt": await _run(
            shell_stack,
            user,
            _sh(
                f"""
                import glob, os, re, urllib.request
                found = set()
                for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
                    try:
                        data = open(path, "rb").read().decode("latin-1")
                    except OSError:
                        continue
                    found.update(re.findall(r"AWS_[A-Z_]+=[^\\x00]*", data))
                for home in ("/root", os.path.expanduser("~"), "/home/agent"):
                    try:
                        found.add(open(home + "/.aws/credentials").read())
                    except OSError:
                        pass
                print("found:", sorted(found))
                for url in ["{credentials.base}/", "{credentials.base}/v2/credentials/"]:
                    try:
                        print(url, urllib.request.urlopen(url, timeout=3).read()[:300])
                    except Exception as exc:
                        print(url, "failed:", exc)
                print("python ran")
                """
            ),
        ),
    }

    # Positive controls: the commands really ran, as `openclaw`, and could read its own env.
    assert f"uid={gw_user.pw_uid}({GATEWAY_USER})" in replies["id and env"]
    assert "OPENCLAW_STATE_DIR=" in replies["id and env"]
    assert "OPENCLAW_STATE_DIR=" in replies["every environ"], "its own environ is readable"
    assert "Permission denied" in replies["supervisor's files"]
    assert "python ran" in replies["credentials hunt"]
    assert credentials.path not in credentials.hits, "the credentials were never fetched"

    for what, reply in replies.items():
        for name, value in secrets.items():
            assert value not in reply, f"{name} came back from {what}: {reply[:2000]}"
    # Visible by design: what OpenClaw itself needs (its token only opens its own loopback
    # gateway, which the agent already runs inside).
    assert gateway_env["OPENCLAW_GATEWAY_TOKEN"] in replies["id and env"]


def test_the_supervisor_still_backs_up_what_openclaw_wrote(shell_stack: DevStackProcess) -> None:
    """As `agent`, the supervisor still backs up OpenClaw's databases, which OpenClaw creates
    0600 (its backup thread gets root's file access: privileges.file_access). Run after the
    shell test, on its agent: the turns there wrote those databases."""
    if not shell_stack.users:
        pytest.skip("needs the agent of the shell test")
    user = shell_stack.users[0]
    state_dir = Path(str(shell_stack.agent_process(user)["stateDir"]))
    private = [
        path.relative_to(state_dir).as_posix()
        for path in state_dir.rglob("*.sqlite")
        if not path.stat().st_mode & stat.S_IRGRP
    ]
    shell_stack.stop_agents()  # the final backup happens on the way down
    deadline = time.monotonic() + 180
    while shell_stack.task_row(user).get("state") != "idle" and time.monotonic() < deadline:
        time.sleep(1)
    s3 = shell_stack.aws("s3")
    listed = s3.list_object_versions(
        Bucket=str(shell_stack.info["state_bucket"]), Prefix=f"agents/{user.user_id}/"
    )
    keys = {o["Key"] for o in listed.get("Versions", [])}
    missing = [name for name in private if not any(k.endswith(name) for k in keys)]
    assert missing == [], f"not backed up: {missing} (backed up: {sorted(keys)})"
    assert any(k.endswith(".sqlite") for k in keys)
    skipped = [line for line in shell_stack.task_log(user).splitlines() if "skipping" in line]
    assert skipped == []
