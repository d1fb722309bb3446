"""Run `openclaw gateway` as a child process on loopback and know when it is ready.

The gateway gets its own process group (so that stopping it also stops the helpers it spawns),
its own HOME and state dir, and an environment built from an allowlist: the LLM agent inside
it runs tools, so it must not inherit our AWS endpoints, the Telegram token or anything else
it does not need. The token travels in the environment, never on the command line.

Nothing is validated before the start: the gateway refuses a bad `openclaw.json` by itself,
exiting with `EXIT_CONFIG_INVALID`, and only then does `wait_ready` ask `openclaw config
validate` for the issues (config.py), so a good config costs one Node start, not two.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import httpx

from serverless_openclaw.core.errors import GatewayError
from serverless_openclaw.runtime.installer import OpenClawRuntime

from .config import CUSTOM_KEY_ENV, EXIT_CONFIG_INVALID, TOKEN_ENV, ConfigInvalid, validate

_PASS_THROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "NODE_EXTRA_CA_CERTS",
    "NODE_COMPILE_CACHE",  # a prefilled compile cache (runtime/installer.py)
)
_PROVIDER_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
_AWS_FOR_BEDROCK = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
)
_NEVER_PREFIXES = ("TELEGRAM_", "SOC_", "AWS_")
"""Never in the gateway's environment, whatever the allowlist above says: our own settings and
secrets (`SOC_*`: the bot token, the table names), the Telegram token under its usual name
(OpenClaw's own Telegram plugin turns on when it sees it and deletes our webhook) and AWS's
credentials (the task role's: the person's backups, inbox and rows).
Exceptions: `_ALLOWED_ANYWAY`, and the AWS variables Bedrock signs with."""
_ALLOWED_ANYWAY = frozenset({CUSTOM_KEY_ENV})
"""The OpenAI-compatible endpoint's key keeps its `SOC_` name (openclaw.json refers to it)."""


def forbidden_keys(env: Mapping[str, str], *, include_aws: bool = False) -> list[str]:
    """The variables of `env` that must not reach OpenClaw (`gateway_environment` drops them;
    tests assert on it). AWS's are allowed only for Bedrock, which signs with them."""
    allowed = _ALLOWED_ANYWAY | (set(_AWS_FOR_BEDROCK) if include_aws else set())
    return sorted(key for key in env if key.startswith(_NEVER_PREFIXES) and key not in allowed)


_PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the supervisor dies, however it dies.

    In a container the gateway dies with the task anyway; on a developer's machine a killed
    agent would otherwise leave a 1.4 GB gateway behind (it runs in its own session). Not
    SIGTERM: with a run in flight OpenClaw drains for over a minute (measured: 74 s), holding
    the state's lease while the restarted stack's next agent wants it; nobody is left to talk
    to it, and its state is restored from the last backup anyway.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def gateway_environment(
    base: Mapping[str, str],
    *,
    state_dir: Path,
    home: Path,
    token: str,
    custom_api_key: str | None = None,
    include_aws: bool = False,
    provider: str | None = None,
    tmp_dir: Path | None = None,
) -> dict[str, str]:
    """Only what OpenClaw needs: PATH and locale, its HOME/TMPDIR/state dir, its gateway
    token and the key of the model it uses (`provider`; None = any key that is set).

    Exec runs with this environment (and can read it from /proc), so whatever is here is
    the agent's; everything else stays with the supervisor.
    """
    env = {key: base[key] for key in _PASS_THROUGH if key in base}
    wanted = _PROVIDER_KEYS.values() if provider is None else [_PROVIDER_KEYS.get(provider, "")]
    env.update({key: base[key] for key in wanted if base.get(key)})
    if include_aws:
        env.update({key: base[key] for key in _AWS_FOR_BEDROCK if base.get(key)})
    env["HOME"] = str(home)
    if tmp_dir is not None:
        env["TMPDIR"] = str(tmp_dir)
    env["OPENCLAW_STATE_DIR"] = str(state_dir)
    env[TOKEN_ENV] = token
    if custom_api_key:
        env[CUSTOM_KEY_ENV] = custom_api_key
    for key in forbidden_keys(env, include_aws=include_aws):
        env.pop(key)
    return env


class RunAs(Protocol):
    """Another user for the gateway (agent/privileges.py: GatewayUser)."""

    def become(self) -> None:
        """In the forked child, before exec: switch to that user for good."""
        ...

    def privileged(self) -> AbstractContextManager[None]:
        """Around a signal to the gateway: only root may signal another user's process."""
        ...


@dataclass
class GatewayProcess:
    runtime: OpenClawRuntime
    state_dir: Path
    port: int
    env: Mapping[str, str]
    log_path: Path
    run_as: RunAs | None = None
    """None: the gateway runs as we do (not root, e.g. a developer's machine)."""
    _process: asyncio.subprocess.Process | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115, ASYNC230 - closed in _closed(); instant
        self._process = await asyncio.create_subprocess_exec(
            *self.runtime.command(
                "gateway", "run", "--port", str(self.port), "--bind", "loopback", "--auth", "token"
            ),
            env=self.runtime.env(self.env),
            cwd=str(self.state_dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=self._child_setup(),
        )

    def _child_setup(self) -> Callable[[], None]:
        if self.run_as is None:
            return _die_with_parent
        return self.run_as.become  # sets the parent-death signal after the uid change

    def _privileged(self) -> AbstractContextManager[None]:
        return self.run_as.privileged() if self.run_as else contextlib.nullcontext()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_ready(self, timeout: float = 120.0, interval: float = 0.25) -> float:
        """Poll /readyz until it says ready; returns the seconds waited."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if not self.running:
                    if self.returncode == EXIT_CONFIG_INVALID:
                        await self._explain_config()
                    raise GatewayError(
                        f"openclaw gateway exited with {self.returncode} before it was ready:\n"
                        f"{self.log_tail()}",
                        code="GATEWAY_EXITED",
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await http.get(f"http://127.0.0.1:{self.port}/readyz")
                    if response.status_code == 200 and response.json().get("ready"):
                        return loop.time() - started
                if loop.time() - started > timeout:
                    raise GatewayError(
                        f"openclaw gateway not ready after {timeout:.0f} s:\n{self.log_tail()}",
                        code="GATEWAY_TIMEOUT",
                    )
                await asyncio.sleep(interval)

    async def _explain_config(self) -> None:
        """The gateway refused its config: raise `ConfigInvalid` with OpenClaw's own issues
        (or return, leaving the generic error, when the validator finds nothing)."""
        try:
            warnings = await asyncio.to_thread(validate, self.runtime, self.state_dir, self.env)
        except ConfigInvalid:
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigInvalid(
                f"OpenClaw refused its configuration and could not say why ({exc}):\n"
                f"{self.log_tail()}",
                [],
            ) from exc
        log.warning("gateway exited %d but the config validates: %s", EXIT_CONFIG_INVALID, warnings)

    async def wait(self) -> int:
        if self._process is None:
            return 0
        code = await self._process.wait()
        self._closed()
        return code

    def _signal_leader(self, sig: signal.Signals) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError), self._privileged():
                self._process.send_signal(sig)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError), self._privileged():
            os.killpg(self._process.pid, sig)

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the gateway, then SIGKILL its process group after `timeout`.

        Only the leader gets SIGTERM: it shuts its workers down itself (~1.5 s). Signalling
        the whole group at once makes it wait for workers that are already gone.
        """
        if self._process is None:
            return None
        self._signal_leader(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), timeout)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self._process.wait()
        # Helpers may outlive the leader; make sure the group is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError), self._privileged():
            os.killpg(self._process.pid, signal.SIGKILL)
        self._closed()
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL the whole group at once: what a crash looks like."""
        self._signal_group(signal.SIGKILL)

    def _closed(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
