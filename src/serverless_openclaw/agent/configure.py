"""The supervisor's "configuring" phase as plain functions: which model, which environment the
gateway gets, and the patched `openclaw.json` (managed keys only; secrets as `${ENV}`).

No Node here, and no validation before the start: the gateway refuses a bad file itself (exit
78) and only then is the pinned OpenClaw asked for the issues (`openclaw/gateway_process.py`),
so unit tests with the fake host write a real config all the same.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

from serverless_openclaw.contracts.records import AgentTools, ModelProvider, UserSettings
from serverless_openclaw.settings import AgentSettings, environ_snapshot

from .openclaw import config as oc_config
from .openclaw.gateway_process import gateway_environment
from .privileges import GatewayLayout

CONFIG_READONLY_ENV: Final = "OPENCLAW_CONFIG_READONLY"
PROVIDER_KEYS: Final = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def gateway_token(settings: AgentSettings) -> str:
    """The configured token, else a fresh one per start (it never leaves the task)."""
    if settings.gateway_token:
        return settings.gateway_token.get_secret_value()
    return secrets.token_urlsafe(32)


def gateway_layout(settings: AgentSettings) -> GatewayLayout:
    """OpenClaw's directories: its state dir, and HOME, TMPDIR and logs under the work dir."""
    work = settings.work_dir
    return GatewayLayout(
        state_dir=settings.openclaw_state_dir,
        home=work / "home",
        tmp=work / "tmp",
        logs=work / "logs",
    )


def gateway_env(
    settings: AgentSettings,
    token: str,
    *,
    provider: ModelProvider | None = None,
    separate: bool = False,
) -> dict[str, str]:
    """The gateway's allowlisted environment, with its own HOME under the work dir; only
    `provider`'s key when it is given.

    `separate` (OpenClaw runs as its own user, agent/privileges.py): its own TMPDIR too, and
    `OPENCLAW_CONFIG_READONLY=1`: openclaw.json is ours (written at every start, and not
    writable to OpenClaw's user then), so OpenClaw's own config writers (doctor, plugin
    installs, config RPCs) refuse instead of failing half-way.
    """
    model = settings.model
    provider = provider or model.model_provider
    custom_key = model.model_api_key.get_secret_value() if model.model_api_key else None
    layout = gateway_layout(settings)
    for folder in (layout.home, layout.tmp) if separate else (layout.home,):
        folder.mkdir(parents=True, exist_ok=True)
    env = gateway_environment(
        environ_snapshot(),
        state_dir=settings.openclaw_state_dir,
        home=layout.home,
        token=token,
        custom_api_key=custom_key if provider == "openai-compatible" else None,
        include_aws=provider == "bedrock",
        provider=provider,
        tmp_dir=layout.tmp if separate else None,
    )
    if separate:
        env[CONFIG_READONLY_ENV] = "1"
    return env


def model_choice(settings: AgentSettings, user: UserSettings) -> oc_config.ModelChoice:
    """The person's choice of model, else the deployment's."""
    model = settings.model
    return oc_config.ModelChoice(
        provider=user.modelProvider or model.model_provider,
        model_id=user.modelId or model.model_id,
        base_url=model.model_base_url,
        region=settings.names.region,
    )


def write_config(
    settings: AgentSettings,
    user: UserSettings,
    *,
    port: int,
    env: dict[str, str],
    tools: AgentTools = "safe",
    automations_paused: bool = False,
    prewarm_url: str | None = None,
) -> Path:
    """Patch `openclaw.json` in the state dir; `ConfigInvalid` when the chosen model cannot
    work (no key in the gateway's environment, no base URL). With `automations_paused` (a
    spent budget) the heartbeat is off and automations do not run; a running gateway picks a
    rewrite up by itself (OpenClaw hot-reloads both). `prewarm_url`: the pre-warm turn's
    stand-in model (agent/prewarm.py)."""
    choice = model_choice(settings, user)
    key_var = PROVIDER_KEYS.get(choice.provider)
    if key_var and not env.get(key_var):
        raise oc_config.ConfigInvalid(
            f"{choice.provider} is selected but {key_var} is not set for the agent", []
        )
    heartbeat = oc_config.HeartbeatChoice(
        policy=user.heartbeat,
        active_start=f"{user.activeHoursStart:02d}:00",
        active_end=f"{user.activeHoursEnd:02d}:00",
    )
    path = settings.openclaw_state_dir / "openclaw.json"
    try:
        patched = oc_config.patch_config(
            oc_config.read_config(path),
            port=port,
            model=choice,
            heartbeat=heartbeat,
            log_file=gateway_layout(settings).logs / "openclaw.log",
            tools=tools,
            automations_paused=automations_paused,
            prewarm_url=prewarm_url,
        )
    except ValueError as exc:  # a model choice that cannot work (e.g. no base URL)
        raise oc_config.ConfigInvalid(str(exc), []) from exc
    oc_config.write_config(path, patched)
    return path
