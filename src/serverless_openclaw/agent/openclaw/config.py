"""Build and patch `openclaw.json`; explain, with the real gateway's words, why it was refused.

Two rules learnt from the projects before us:
- *Patch, don't overwrite.* The person (or their agent) may change settings we do not
  manage; we only touch the keys listed in `MANAGED` and keep everything else.
- *No secret in the file.* The state dir is backed up to S3, so API keys are written as
  `${ENV_VAR}` references that OpenClaw resolves from its environment, and the gateway token
  is not in it at all: OpenClaw takes `OPENCLAW_GATEWAY_TOKEN` from its environment when the
  file names none, which also keeps the file the same from start to start (see `patch_config`).

OpenClaw's config schema is strict (an unknown key stops the gateway) and moves between
releases. The gateway checks the file itself when it starts and exits with `EXIT_CONFIG_INVALID`
(78) on a bad key, so nothing is validated up front (a second Node start, 2.6-4 s of every
cold start): only after such an exit does `validate()` ask the pinned OpenClaw
(`openclaw config validate --json`) for the list of issues the person is shown.

The agent's start-up settings (`lean=True`) turn off what OpenClaw does in the background
after it is ready and nobody here uses, because it competes with the first turn for the CPU:
the control UI (never reachable: loopback only, no inbound rule; hashing its assets takes
12-23 s of CPU after every start), the hosted model-catalogue refresh (a downloaded catalogue
would only apply at the next start, and each task starts from the backup without it) and the
update check (the version is pinned in the image).
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from serverless_openclaw.contracts.records import AgentTools, HeartbeatPolicy, ModelProvider
from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.runtime.installer import OpenClawRuntime

TOKEN_ENV: Final = "OPENCLAW_GATEWAY_TOKEN"  # noqa: S105 - a variable name
CUSTOM_KEY_ENV: Final = "SOC_MODEL_API_KEY"
OFFLINE_PROVIDER: Final = "offline"
CUSTOM_PROVIDER: Final = "custom"
OFFLINE_MODEL: Final = "offline-echo"
PREWARM_PROVIDER: Final = "soc-prewarm"
PREWARM_MODEL: Final = "stand-in"
EXIT_CONFIG_INVALID: Final = 78
"""The gateway's exit code when it refuses its configuration (sysexits' EX_CONFIG)."""

DEFAULT_MODELS: Final[Mapping[str, str]] = {
    "anthropic": "claude-sonnet-5",
    "openai": "gpt-6-astra",
    "bedrock": "us.anthropic.claude-sonnet-4-6-v1",
    "openai-compatible": "default",
    "offline": OFFLINE_MODEL,
}

MANAGED: Final = (
    "gateway.mode",
    "gateway.bind",
    "gateway.port",
    "gateway.auth",
    "models.providers.offline",
    "models.providers.custom",
    "models.providers.amazon-bedrock",
    f"models.providers.{PREWARM_PROVIDER}",
    "agents.defaults.model.primary",
    "agents.defaults.heartbeat.every",
    "agents.defaults.heartbeat.activeHours",
    "cron.enabled",
    "attachments.ttlHours",
    "logging.file",
    "tools.exec.mode",
    "tools.deny",
    "tools.fs.workspaceOnly",
    "tools.elevated.enabled",
    "gateway.controlUi.enabled",
    "models.catalogRefresh.enabled",
    "update.checkOnStart",
)
"""The only keys `patch_config` writes; everything else in the file is the person's."""

LEAN_START: Final[Mapping[str, Any]] = {
    "gateway.controlUi.enabled": False,
    "models.catalogRefresh.enabled": False,
    "update.checkOnStart": False,
}
"""Background work after start-up that the agent turns off (see the module docstring)."""


INBOUND_MEDIA_TTL_HOURS: Final = 7 * 24
"""How long OpenClaw keeps its copy of the files people send (`$STATE/media/inbound/`, which
the state backup carries): a week, for follow-up questions about them. The originals stay in
the person's attachment store (shown in the history) however long OpenClaw keeps its copy;
without this OpenClaw never deletes them and every backup keeps every file ever sent."""

HOST_TOOLS: Final = (
    "group:ui",
    "browser",
    "canvas",
    "group:nodes",
    "gateway",
    "plugins",
    "openclaw",
    "dir_fetch",
    "dir_list",
    "file_fetch",
    "file_write",
)
"""Denied under every policy. Tools that reach beyond the workspace other than the shell: the
UI group (a headless browser, which also gets around web_fetch's private-address block, a
terminal, the screen, the canvas), paired devices and computer use (nodes), file transfer to
nodes; and the tools that change OpenClaw itself (`gateway`: config apply and update,
`plugins`: install code, `openclaw`: setup and repair), with which an agent could give itself
back what this policy takes away."""
SHELL_TOOLS: Final = ("group:runtime",)
"""exec, process and code_execution: a shell on the task."""


def tools_block(policy: AgentTools) -> dict[str, Any]:
    """OpenClaw's tool policy for `SOC_AGENT_TOOLS` (see AgentSettings.agent_tools).

    `safe` denies the shell twice over, as OpenClaw's docs advise (a tool deny removes exec
    from what the model sees; `exec.mode: deny` covers anything that gets through). `shell`
    lets exec run without approval (`full`): nobody can approve on a headless task, and "ask"
    there means "deny at once". Both keep the file tools inside the workspace and the
    elevated escape hatch off.
    """
    shell = policy == "shell"
    return {
        "exec.mode": "full" if shell else "deny",
        "deny": list(HOST_TOOLS if shell else SHELL_TOOLS + HOST_TOOLS),
        "fs.workspaceOnly": True,
        "elevated.enabled": False,
    }


class ConfigInvalid(OpenClawError):
    def __init__(self, message: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.issues = issues


@dataclass(frozen=True)
class ModelChoice:
    provider: ModelProvider
    model_id: str | None = None
    base_url: str | None = None
    """For `openai-compatible` and `offline`: the OpenAI-compatible base URL (…/v1)."""
    region: str = "us-east-1"
    """For `bedrock`."""

    @property
    def resolved_id(self) -> str:
        return self.model_id or DEFAULT_MODELS[self.provider]

    @property
    def primary(self) -> str:
        prefix = {
            "anthropic": "anthropic",
            "openai": "openai",
            "bedrock": "amazon-bedrock",
            "openai-compatible": CUSTOM_PROVIDER,
            "offline": OFFLINE_PROVIDER,
        }[self.provider]
        return f"{prefix}/{self.resolved_id}"


@dataclass(frozen=True)
class HeartbeatChoice:
    """`off` writes every "0m"; `active-hours` keeps OpenClaw's cadence inside a window;
    `openclaw` leaves OpenClaw's own default (30 min) untouched."""

    policy: HeartbeatPolicy = "off"
    every: str = "30m"
    active_start: str = "08:00"
    active_end: str = "22:00"


def _model_entry(
    model_id: str, *, context: int = 128_000, inputs: tuple[str, ...] = ("text",)
) -> dict[str, Any]:
    """`inputs` decides what OpenClaw passes the model: with "image" an attached picture
    arrives as an image part; without it only as a `media://` marker."""
    return {
        "id": model_id,
        "name": model_id,
        "reasoning": False,
        "input": list(inputs),
        "contextWindow": context,
        "maxTokens": 8192,
    }


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[last] = value


def _delete(config: dict[str, Any], dotted: str) -> None:
    node: Any = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(last, None)


def patch_config(
    existing: Mapping[str, Any] | None,
    *,
    port: int,
    model: ModelChoice,
    heartbeat: HeartbeatChoice | None = None,
    log_file: Path | None = None,
    tools: AgentTools = "safe",
    automations_paused: bool = False,
    lean: bool = True,
    prewarm_url: str | None = None,
) -> dict[str, Any]:
    """Return `existing` with our managed keys set; never contains a secret value.

    `automations_paused` (the person's LLM budget is spent) turns the heartbeat off and
    `cron.enabled` false: OpenClaw keeps every job and runs none; both hot-apply to a running
    gateway. Otherwise `cron.enabled` is left to OpenClaw's default (on).

    `lean=False` puts the start-up keys back to OpenClaw's own defaults (what a bare gateway
    does: the benchmark's comparison). `prewarm_url` adds the stand-in model the pre-warm turn
    uses (agent/prewarm.py), an OpenAI-compatible base URL on loopback.
    """
    config: dict[str, Any] = copy.deepcopy(dict(existing or {}))
    _set(config, "gateway.mode", "local")
    _set(config, "gateway.bind", "loopback")
    _set(config, "gateway.port", port)
    # No token in the file, not even as `${OPENCLAW_GATEWAY_TOKEN}`: OpenClaw reads that
    # variable itself when `gateway.auth.token` is unset, and it fingerprints the *resolved*
    # config to decide whether its start-up migrations already ran. A token per start in the
    # file made every start re-run them (~1 s and ~1 CPU-s: docs/performance.md).
    _set(config, "gateway.auth", {"mode": "token"})

    for provider in (OFFLINE_PROVIDER, CUSTOM_PROVIDER, "amazon-bedrock", PREWARM_PROVIDER):
        _delete(config, f"models.providers.{provider}")
    if model.provider in ("offline", "openai-compatible"):
        if not model.base_url:
            raise ValueError(f"the {model.provider} model needs a base URL")
        name = OFFLINE_PROVIDER if model.provider == "offline" else CUSTOM_PROVIDER
        # The offline model reports the images it receives (tests check it); what a custom
        # endpoint's model takes is unknown, so it gets text only.
        entry = _model_entry(
            model.resolved_id,
            context=32_000,
            inputs=("text", "image") if name == OFFLINE_PROVIDER else ("text",),
        )
        if name == CUSTOM_PROVIDER:
            # OpenClaw asks a non-local endpoint for streamed usage only with this flag;
            # without usage, spending and budgets cannot count the endpoint's tokens.
            entry["compat"] = {"supportsUsageInStreaming": True}
        _set(config, "models.mode", config.get("models", {}).get("mode", "merge"))
        _set(
            config,
            f"models.providers.{name}",
            {
                "baseUrl": model.base_url,
                # The offline model needs no key; a custom endpoint's key stays in the env.
                "apiKey": "offline" if name == OFFLINE_PROVIDER else f"${{{CUSTOM_KEY_ENV}}}",
                "api": "openai-completions",
                "models": [entry],
            },
        )
    elif model.provider == "bedrock":
        _set(config, "models.mode", config.get("models", {}).get("mode", "merge"))
        _set(
            config,
            "models.providers.amazon-bedrock",
            {
                "baseUrl": f"https://bedrock-runtime.{model.region}.amazonaws.com",
                "api": "bedrock-converse-stream",
                "auth": "aws-sdk",
                "models": [_model_entry(model.resolved_id, context=200_000)],
            },
        )
    _set(config, "agents.defaults.model.primary", model.primary)
    if prewarm_url is not None:
        _set(config, "models.mode", config.get("models", {}).get("mode", "merge"))
        _set(
            config,
            f"models.providers.{PREWARM_PROVIDER}",
            {
                "baseUrl": prewarm_url,
                "apiKey": "none",
                "api": "openai-completions",
                "models": [_model_entry(PREWARM_MODEL, context=32_000)],
            },
        )

    heartbeat = heartbeat or HeartbeatChoice()
    if automations_paused:
        heartbeat = HeartbeatChoice(policy="off")
        _set(config, "cron.enabled", False)
    else:
        _delete(config, "cron.enabled")
        if config.get("cron") == {}:
            del config["cron"]
    if heartbeat.policy == "off":
        _set(config, "agents.defaults.heartbeat.every", "0m")
        _delete(config, "agents.defaults.heartbeat.activeHours")
    elif heartbeat.policy == "active-hours":
        _set(config, "agents.defaults.heartbeat.every", heartbeat.every)
        _set(
            config,
            "agents.defaults.heartbeat.activeHours",
            {"start": heartbeat.active_start, "end": heartbeat.active_end},
        )
    else:
        _delete(config, "agents.defaults.heartbeat.every")
        _delete(config, "agents.defaults.heartbeat.activeHours")

    _set(config, "attachments.ttlHours", INBOUND_MEDIA_TTL_HOURS)
    for key, value in tools_block(tools).items():
        _set(config, f"tools.{key}", value)

    if log_file is not None:
        _set(config, "logging.file", str(log_file))
    for key, value in LEAN_START.items():
        if lean:
            _set(config, key, value)
        else:
            _delete(config, key)
    return config


def read_config(path: Path) -> dict[str, Any] | None:
    """The current file, or None when missing. JSON5 files we cannot read as JSON are kept
    aside (not overwritten blindly) so the person's edits are not lost."""
    if not path.exists():
        return None
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        aside = path.with_suffix(".json5.bak")
        aside.write_text(text)
        return None
    return data if isinstance(data, dict) else None


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(path)


def validate(runtime: OpenClawRuntime, state_dir: Path, env: Mapping[str, str]) -> list[str]:
    """Ask the pinned OpenClaw to validate the config in `state_dir`.

    Returns warnings; raises ConfigInvalid with the gateway's own issue list when it would
    refuse to start. Not called before a start (the gateway validates by itself): the gateway
    process calls it after an exit with `EXIT_CONFIG_INVALID`, to say what is wrong.
    """
    child_env = runtime.env(env)
    child_env["OPENCLAW_STATE_DIR"] = str(state_dir)
    result = subprocess.run(
        runtime.command("config", "validate", "--json"),
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ConfigInvalid(
            f"`openclaw config validate` gave no report (exit {result.returncode}): "
            f"{(result.stderr or result.stdout)[-500:]}",
            [],
        ) from exc
    if not report.get("valid", False):
        issues = list(report.get("issues") or [])
        listed = "; ".join(f"{i.get('path')}: {i.get('message')}" for i in issues)
        raise ConfigInvalid(f"openclaw.json is invalid: {listed or report}", issues)
    return [f"{w.get('path')}: {w.get('message')}" for w in report.get("warnings") or []]
