"""The real checks of an OpenClaw upgrade (runtime/upgrade.py decides what to do with them).

Each one runs the candidate itself, the way the agent will: our config generator
(agent/openclaw/config.py) writes the configs the supervisor writes, the candidate's own CLI
validates them, its `doctor --fix` migrates a copy, and the contract tests start its gateway.
Every run gets a throw-away state dir and HOME, so nothing touches a real agent's state.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from serverless_openclaw.agent.openclaw.config import (
    ConfigInvalid,
    HeartbeatChoice,
    ModelChoice,
    patch_config,
    read_config,
    validate,
    write_config,
)
from serverless_openclaw.core.errors import RuntimeInstallError
from serverless_openclaw.runtime import installer
from serverless_openclaw.runtime.installer import OpenClawRuntime, Progress
from serverless_openclaw.runtime.upgrade import CheckResult
from serverless_openclaw.settings import environ_snapshot

VERSION_ENV: Final = "SOC_TEST_OPENCLAW_VERSION"
"""Selects the OpenClaw the contract tests' `openclaw_runtime` fixture installs and runs."""
PLACEHOLDER_URL: Final = "http://127.0.0.1:9/v1"
DOCTOR_TIMEOUT_S: Final = 300
CONTRACT_TIMEOUT_S: Final = 1800


def generated_configs() -> list[tuple[str, dict[str, Any]]]:
    """The configs our supervisor writes: one per provider, every heartbeat policy, and
    automations paused by a spent budget."""
    variants: list[tuple[str, ModelChoice, HeartbeatChoice]] = [
        (
            "offline, heartbeat off",
            ModelChoice("offline", base_url=PLACEHOLDER_URL),
            HeartbeatChoice(),
        ),
        ("anthropic, active hours", ModelChoice("anthropic"), HeartbeatChoice("active-hours")),
        ("openai", ModelChoice("openai"), HeartbeatChoice("openclaw")),
        ("bedrock", ModelChoice("bedrock"), HeartbeatChoice()),
        (
            "openai-compatible",
            ModelChoice("openai-compatible", base_url=PLACEHOLDER_URL),
            HeartbeatChoice(),
        ),
    ]
    configs = [
        (label, patch_config(None, port=18999, model=model, heartbeat=heartbeat))
        for label, model, heartbeat in variants
    ]
    paused = patch_config(
        None,
        port=18999,
        model=ModelChoice("anthropic"),
        heartbeat=HeartbeatChoice("active-hours"),
        automations_paused=True,
    )
    return [*configs, ("anthropic, budget spent (automations paused)", paused)]


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class LocalChecks:
    """The checks on this machine: the runtime cache (`prefix`) and the checkout (`root`)."""

    root: Path
    prefix: Path | None = None
    progress: Progress = print

    def _env(self, state_dir: Path, home: Path) -> dict[str, str]:
        env = environ_snapshot()
        env.update(
            {
                "HOME": str(home),
                "OPENCLAW_STATE_DIR": str(state_dir),
                "OPENCLAW_GATEWAY_TOKEN": "x" * 32,
                "SOC_MODEL_API_KEY": "placeholder",
                "OPENCLAW_NO_AUTO_UPDATE": "1",
            }
        )
        return env

    def install(self, version: str) -> OpenClawRuntime:
        return installer.install(self.prefix, version=version, progress=self.progress)

    def validate_configs(self, runtime: OpenClawRuntime) -> CheckResult:
        refused = []
        with tempfile.TemporaryDirectory(prefix="soc-upgrade-") as scratch:
            for n, (label, config) in enumerate(generated_configs()):
                state, home = Path(scratch) / f"s{n}", Path(scratch) / f"h{n}"
                home.mkdir(parents=True)
                write_config(state / "openclaw.json", config)
                try:
                    validate(runtime, state, self._env(state, home))
                except ConfigInvalid as exc:
                    refused.append(f"{label}: {exc}")
        if refused:
            return CheckResult(False, f"{len(refused)} config(s) refused", "\n".join(refused))
        return CheckResult(True, f"{len(generated_configs())} configs valid")

    def normalized_config(self, runtime: OpenClawRuntime) -> dict[str, Any]:
        label, config = generated_configs()[0]
        with tempfile.TemporaryDirectory(prefix="soc-doctor-") as scratch:
            state, home = Path(scratch) / "state", Path(scratch) / "home"
            home.mkdir()
            write_config(state / "openclaw.json", config)
            env = runtime.env(self._env(state, home))
            result = subprocess.run(
                runtime.command("doctor", "--fix", "--non-interactive"),
                env=env,
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=DOCTOR_TIMEOUT_S,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeInstallError(
                    f"`openclaw doctor --fix` ({runtime.version}) failed on our config "
                    f"({label}), exit {result.returncode}:\n{_tail(result.stderr or result.stdout)}"
                )
            return read_config(state / "openclaw.json") or {}

    def contract_tests(self, version: str) -> CheckResult:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "openclaw",
            "tests/openclaw",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        env: Mapping[str, str] = {**environ_snapshot(), VERSION_ENV: version}
        result = subprocess.run(
            command,
            cwd=self.root,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=CONTRACT_TIMEOUT_S,
            check=False,
        )
        last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        summary = f"{last.strip('= ')} (`{' '.join(command[2:])}` with {VERSION_ENV}={version})"
        if result.returncode != 0:
            return CheckResult(False, summary, _tail(result.stdout + result.stderr, 40))
        return CheckResult(True, summary)
